"""One exception tree for newsbote.

::

    NewsboteError
    ├── ConfigError          bad config file: carries file, line, key, expected, found, hint
    ├── FetchError           a source could not be fetched: carries url, status, retry_after
    │   └── BlockedAddressError   the SSRF guard refused an address
    ├── ParseError           a fetched document is not a usable feed: carries url
    ├── RenderError          a template failed: carries template name and destination
    ├── DeliveryError        a destination refused or failed: carries destination, permanent
    └── StorageError         the database failed or is at the wrong schema version

Errors of other libraries are wrapped at the edge (``raise ... from exc``), so
callers catch one tree and always learn what the error is about.
"""

from __future__ import annotations

from newsbote.urlmask import mask_url


class NewsboteError(Exception):
    """Base of every error newsbote raises on purpose."""


class ConfigError(NewsboteError):
    """The configuration is invalid; the message names where and why."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: "
        if self.key:
            text += f"{self.key}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class FetchError(NewsboteError):
    """A source could not be fetched; ``url`` is kept with its password masked."""

    def __init__(
        self,
        url: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        url = mask_url(url)
        self.url = url
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.permanent = permanent
        super().__init__(f"{url}: {message}")


class BlockedAddressError(FetchError):
    """The SSRF guard refused to connect to a private or local address."""

    def __init__(
        self,
        url: str,
        address: str,
        *,
        hint: str | None = None,
    ) -> None:
        hint = hint or "set allow_private = true on the source to allow it"
        super().__init__(
            url, f"refused to connect to non-public address {address} ({hint})", permanent=True
        )
        self.address = address


class ParseError(NewsboteError):
    """A fetched document could not be parsed as a feed."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message
        super().__init__(f"{url}: not a usable feed: {message}")


class RenderError(NewsboteError):
    """A template could not be rendered."""

    def __init__(self, template: str, message: str, *, destination: str | None = None) -> None:
        self.template = template
        self.destination = destination
        where = f"template {template!r}"
        if destination:
            where += f" for destination {destination!r}"
        super().__init__(f"{where}: {message}")


class DeliveryError(NewsboteError):
    """A destination failed; ``permanent`` says whether a retry can help.

    ``uncertain`` says the request may have reached the destination (a timeout
    after it was sent): a destination without idempotency must not resend it
    blindly, so the delivery becomes ``unknown``.
    """

    def __init__(
        self,
        destination: str,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        uncertain: bool = False,
    ) -> None:
        self.destination = destination
        self.detail = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.uncertain = uncertain
        super().__init__(f"destination {destination!r}: {message}")


class StorageError(NewsboteError):
    """The store failed or is not at the expected schema version."""
