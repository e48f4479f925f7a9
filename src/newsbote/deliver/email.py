"""Email: one message per article over SMTP (STARTTLS, SSL or plain; optional AUTH).

Each mail is ``multipart/alternative`` with a plain-text and an HTML part. Its
``Message-ID`` is derived from the article and destination, so the same
article always has the same id; an update (``edit`` or ``reply``) is a new
mail whose ``In-Reply-To``/``References`` point at the first one, so mail
clients thread it under the original.

SMTP has no idempotency: a connection lost after the message was handed over
leaves the outcome unknown, and such a delivery waits as ``unknown`` for the
operator instead of being sent twice.
"""

from __future__ import annotations

import hashlib
import html
import ssl
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import aiosmtplib
from pydantic import Field, SecretStr, field_validator
from sqlalchemy import Connection, func, select

from newsbote.deliver.base import Destination, Options
from newsbote.deliver.http import secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery, Outcome
from newsbote.render.markup import convert
from newsbote.store.schema import deliveries
from newsbote.types import Markup, Receipt

DIGEST_LIMIT = 1000
"""Articles in one digest at most; more wait for the next day's."""


class EmailOptions(Options):
    host: str = Field(description="SMTP server")
    port: int | None = Field(
        None, description="default: 465 for ssl, 587 for starttls, 25 for none"
    )
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="transport security"
    )
    username: str | None = Field(None, description="SMTP AUTH user")
    password: SecretStr | None = secret_field("SMTP AUTH password", default=None)
    sender: str = Field(description='From address, e.g. "News-Bote <bote@example.org>"')
    to: list[str] = Field(min_length=1, description="recipients")
    ca_file: Path | None = Field(
        None, description="CA bundle to trust for the server's certificate"
    )
    timeout: float = Field(30.0, gt=0, description="seconds per SMTP conversation")
    digest: Literal["off", "daily"] = Field(
        "off", description='"daily": one mail a day with every new article instead of one each'
    )
    digest_at: time = Field(time(7, 0), description="when the daily digest goes out (HH:MM)")
    # the validator of every destination's timezone checks this one too
    timezone: str = Field("Europe/Berlin", description="the time zone of digest_at and daily_cap")

    @field_validator("sender", "to")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        for address in [value] if isinstance(value, str) else value:
            if "@" not in parseaddr(address)[1]:
                raise ValueError(f"not an email address: {address!r}")
        return value


def message_id(delivery: Delivery, domain: str, *, version: int | None = None) -> str:
    """The article's Message-ID at this destination (per version for updates)."""
    seed = f"{delivery.destination}\n{delivery.dedupe_key}\n{version or ''}"
    return f"<newsbote.{hashlib.blake2b(seed.encode(), digest_size=12).hexdigest()}@{domain}>"


class Email(Destination[EmailOptions]):
    """Not idempotent: an unknown outcome is never resent blindly."""

    kind = "email"
    markup = Markup.HTML
    can_edit = False  # an update is a reply in the first mail's thread
    Options = EmailOptions

    def _domain(self) -> str:
        return parseaddr(self.options.sender)[1].rsplit("@", 1)[1]

    def compose(self, delivery: Delivery, *, reply_to: str | None = None) -> EmailMessage:
        message = delivery.message
        mail = EmailMessage()
        name, address = parseaddr(self.options.sender)
        mail["From"] = str(Address(name or self.context.bot.name, addr_spec=address))
        mail["To"] = ", ".join(self.options.to)
        mail["Subject"] = " ".join(message.title.split())  # a header is one line
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        version = delivery.version if reply_to else None
        mail["Message-ID"] = message_id(delivery, self._domain(), version=version)
        if reply_to:
            mail["In-Reply-To"] = reply_to
            mail["References"] = reply_to
        if message.link:
            mail["X-Newsbote-Link"] = message.link
        mail.set_content(convert(message.body, Markup.TEXT))
        page = (
            f'<!doctype html><html lang="{self.context.language}"><head><meta charset="utf-8">'
            f"<title>{html.escape(message.title)}</title></head>"
            f"<body>{message.body}</body></html>"
        )
        mail.add_alternative(page, subtype="html")
        return mail

    @cached_property
    def _server(self) -> dict[str, Any]:
        """How to reach the SMTP server, as aiosmtplib's keyword arguments (built once: the
        TLS context reads the CA bundle)."""
        options = self.options
        cafile = str(options.ca_file) if options.ca_file else None
        return {
            "hostname": options.host,
            "port": options.port or {"ssl": 465, "starttls": 587, "none": 25}[options.security],
            "use_tls": options.security == "ssl",
            "start_tls": options.security == "starttls",
            "tls_context": ssl.create_default_context(cafile=cafile),
            "timeout": options.timeout,
        }

    def _password(self) -> str | None:
        secret = self.options.password
        return self.reveal(secret, "password") if secret else None

    async def _submit(self, mail: EmailMessage) -> Receipt:
        options = self.options
        server = self._server
        host, port = server["hostname"], server["port"]
        try:
            await aiosmtplib.send(
                mail, username=options.username, password=self._password(), **server
            )
        except aiosmtplib.SMTPConnectError as exc:
            raise DeliveryError(self.name, f"cannot connect to {host}:{port}: {exc}") from exc
        except (
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPRecipientsRefused,
            aiosmtplib.SMTPSenderRefused,
        ) as exc:
            raise DeliveryError(self.name, f"refused: {exc}", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(
                self.name, f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500
            ) from exc
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            raise DeliveryError(self.name, f"connection lost: {exc}", uncertain=True) from exc
        except aiosmtplib.SMTPException as exc:
            raise DeliveryError(self.name, f"{type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            raise DeliveryError(self.name, f"cannot connect to {host}:{port}: {exc}") from exc
        return Receipt(remote_id=str(mail["Message-ID"]), url=None)

    async def send(self, delivery: Delivery) -> Receipt:
        return await self._submit(self.compose(delivery))

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        await self._submit(self.compose(delivery, reply_to=receipt.remote_id))
        return receipt  # the thread is still the first mail's

    @property
    def paced(self) -> bool:
        return self.options.digest == "daily" or super().paced

    def room(self, connection: Connection, now: datetime, limit: int) -> int:
        """In digest mode: everything due, once a day after ``digest_at``; else nothing."""
        if self.options.digest == "off":
            return super().room(connection, now, limit)
        zone = ZoneInfo(self.options.timezone)
        local = now.astimezone(zone)
        if local.time() < self.options.digest_at:
            return 0
        today = datetime.combine(local.date(), self.options.digest_at, zone)
        last = connection.execute(
            select(func.max(deliveries.c.sent_at)).where(deliveries.c.destination == self.name)
        ).scalar()
        return 0 if last is not None and last >= today else DIGEST_LIMIT

    async def deliver_many(self, batch: Sequence[tuple[Delivery, Receipt | None]]) -> list[Outcome]:
        if self.options.digest == "off" or not batch:
            return await super().deliver_many(batch)
        try:
            receipt = await self._submit(self.digest_mail([d for d, _ in batch]))
        except DeliveryError as exc:
            return [Outcome(d, error=self.scrub(exc)) for d, _ in batch]
        return [Outcome(d, receipt=receipt) for d, _ in batch]

    def digest_mail(self, batch: Sequence[Delivery]) -> EmailMessage:
        """One mail with every article of ``batch``: a contents list, then each in full."""
        language = self.context.language
        day = datetime.now(ZoneInfo(self.options.timezone)).strftime(
            "%d.%m.%Y" if language == "de" else "%Y-%m-%d"
        )
        count = len(batch)
        subject = (
            f"{self.context.bot.name}: {count} neue{'r' if count == 1 else ''} Artikel ({day})"
            if language == "de"
            else f"{self.context.bot.name}: {count} new article{'' if count == 1 else 's'} ({day})"
        )
        sections = "".join(
            f"<h2>{html.escape(d.message.title)}</h2>{d.message.body}<hr>" for d in batch
        )
        contents = "".join(f"<li>{html.escape(d.message.title)}</li>" for d in batch)
        body = f"<ul>{contents}</ul><hr>{sections}"
        first = batch[0]
        digest = replace(
            first,
            dedupe_key="digest:" + ",".join(str(d.id) for d in batch),
            message=replace(first.message, title=subject, body=body, link=None),
        )
        return self.compose(digest)

    async def check(self) -> str:
        server = self._server
        client = aiosmtplib.SMTP(**server)
        try:
            await client.connect()
            password = self._password()
            if self.options.username and password:
                await client.login(self.options.username, password)
            await client.quit()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(self.name, f"SMTP check failed: {exc}", permanent=True) from exc
        return (
            f"email via {server['hostname']}:{server['port']} ({self.options.security})"
            f" to {len(self.options.to)} recipient(s)"
        )
