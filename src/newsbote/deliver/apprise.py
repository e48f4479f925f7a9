"""Apprise: the long tail of notification services (ntfy, Gotify, Pushover, Rocket.Chat,
Zulip, Teams, … ; https://github.com/caronc/apprise/wiki) through one library.

At most once: Apprise reports only success or failure and offers no idempotency
or lookup, so a failed notification is never retried blindly. It waits as
``unknown`` for the operator (``newsbote resolve``/``retry``), who knows
whether the service showed it.
"""

from __future__ import annotations

import asyncio

from pydantic import Field, SecretStr

from newsbote.deliver.base import Destination, Options
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.types import Markup, Receipt


class AppriseOptions(Options):
    urls: list[SecretStr] = Field(
        min_length=1,
        description='Apprise URLs, e.g. "ntfys://ntfy.sh/news" (each literal, "env:NAME" or "file:PATH")',
    )


class Apprise(Destination[AppriseOptions]):
    kind = "apprise"
    markup = Markup.MARKDOWN
    can_edit = False  # a notification cannot change: an update is a new one
    max_length = 4000
    Options = AppriseOptions

    def _client(self) -> object:
        import apprise  # imported on use: a large package most setups never need

        client = apprise.Apprise()
        for index, url in enumerate(self.options.urls):
            if not client.add(self.reveal(url, f"urls[{index}]")):
                raise DeliveryError(
                    self.name, f"urls[{index}] is not an Apprise URL Apprise knows", permanent=True
                )
        return client

    async def send(self, delivery: Delivery) -> Receipt:
        import apprise

        client = self._client()
        assert isinstance(client, apprise.Apprise)
        message = delivery.message
        sent = await asyncio.to_thread(
            client.notify,
            body=message.body,
            title=message.title,
            body_format=apprise.NotifyFormat.MARKDOWN,
        )
        if not sent:
            raise DeliveryError(
                self.name,
                "Apprise reported a failure; whether some services showed it is unknown",
                uncertain=True,
            )
        return Receipt(remote_id=delivery.idempotency_key, url=message.link)

    async def check(self) -> str:
        self._client()
        return f"apprise to {len(self.options.urls)} service(s)"
