"""The types that flow between the pipeline's stages, one per stage output.

``fetch`` returns :class:`Fetched`, ``parse`` a :class:`ParsedFeed` of
:class:`Entry`, ``identify`` turns entries into :class:`Item` with a
:class:`Verdict`, ``render`` produces a :class:`Message` per destination, and a
destination's ``send`` returns a :class:`Receipt`. All are frozen: a stage
never changes what an earlier stage produced.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Fetched:
    """A source's HTTP answer (or a local file's bytes), decoded of transfer encodings."""

    url: str
    final_url: str
    status: int
    body: bytes
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None
    """Seconds the publisher asks us to wait (Cache-Control max-age or Expires)."""
    retry_after: float | None = None
    moved_to: str | None = None
    """The new URL when the source answered with a permanent redirect (301/308)."""
    content_location: str | None = None
    """The HTTP ``Content-Location``: the base of the document's relative URLs
    (``parse_feed(..., content_location=...)``)."""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A file an entry carries (a podcast's audio, a video), as the feed describes it."""

    url: str
    type: str = ""
    """Its media type as the feed states it (``audio/mpeg``), or empty."""
    length: int | None = None
    """Its size in bytes as the feed states it (often wrong or 0; never fetched)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a parsed feed, as the publisher wrote it (HTML already sanitized)."""

    guid: str | None
    link: str | None
    title: str
    content_html: str
    summary_html: str
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    image: str | None = None
    text: str = ""
    """The visible text of ``content_html``, whitespace collapsed (derived once, at parse)."""
    base: str | None = None
    """The URL relative links in the content are relative to."""
    enclosures: tuple[Enclosure, ...] = ()
    """Its files (RSS ``<enclosure>``, Atom ``rel="enclosure"``, JSON Feed attachments),
    URLs absolute, each passed by ``urls.web_url``."""
    sanitized: bool = True
    """False for an entry straight from the feed (``parse_feed(..., sanitize=False)``):
    its HTML is the publisher's and must pass ``enrich.sanitize_entry`` before use."""

    def with_safe_html(
        self, content_html: str, summary_html: str, text: str, image: str | None
    ) -> Entry:
        """This entry sanitized (``dataclasses.replace`` is 5x slower, and a poll does this
        for every new entry)."""
        return Entry(
            self.guid,
            self.link,
            self.title,
            content_html,
            summary_html,
            self.author,
            self.published,
            self.updated,
            self.categories,
            image,
            text,
            self.base,
            self.enclosures,
            True,
        )

    @property
    def plain(self) -> str:
        """``text``, or the visible text of the content when an Entry was built without it."""
        if self.text or not self.content_html:
            return self.text
        from newsbote.enrich.sanitize import plain_text

        return plain_text(self.content_html)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document turned into entries, newest first as the publisher ordered them."""

    url: str
    title: str
    link: str | None
    entries: tuple[Entry, ...]
    ttl_minutes: int | None = None
    parser: str = "fastfeedparser"
    language: str | None = None


class KeyKind(enum.StrEnum):
    """What an item's key was derived from."""

    GUID = "guid"
    LINK = "link"
    HASH = "hash"


class Outcome(enum.StrEnum):
    """What identify decided about an entry."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    RENAMED = "renamed"
    """A known item (same canonical link) that arrived under a new GUID."""


@dataclass(frozen=True, slots=True)
class Item:
    """An entry with its stable identity and content fingerprint."""

    source: str
    key: str
    key_kind: KeyKind
    canonical_url: str | None
    entry: Entry
    fingerprint: str
    teaser: str = ""

    @property
    def title(self) -> str:
        return self.entry.title

    def with_entry(self, entry: Entry, teaser: str | None = None) -> Item:
        """This item with another version of its entry (``dataclasses.replace`` is 5x slower,
        and a poll does this for every entry)."""
        return Item(
            self.source,
            self.key,
            self.key_kind,
            self.canonical_url,
            entry,
            self.fingerprint,
            self.teaser if teaser is None else teaser,
        )

    @property
    def link(self) -> str | None:
        return self.entry.link


@dataclass(frozen=True, slots=True)
class Verdict:
    """identify's decision for one entry, with the reason shown by ``why``."""

    item: Item
    outcome: Outcome
    reason: str
    known_key: str | None = None
    """For RENAMED/CHANGED/UNCHANGED: the key of the stored item this entry matched."""
    changed: bool = False
    """True when the stored item's content differs (always for CHANGED)."""

    def with_item(self, item: Item) -> Verdict:
        """This verdict for another version of its item (the hot path's ``replace``)."""
        return Verdict(item, self.outcome, self.reason, self.known_key, self.changed)


class Markup(enum.StrEnum):
    """The markup a destination speaks (see ``render.markup`` for who speaks which)."""

    HTML = "html"
    MATRIX = "matrix"
    MARKDOWN = "markdown"
    DISCORD = "discord"
    BBCODE = "bbcode"
    SLACK = "slack"
    TELEGRAM = "telegram"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Message:
    """What one destination gets for one item: rendered, limited, ready to send."""

    destination: str
    title: str
    body: str
    link: str | None
    markup: Markup
    image: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    action: str = "post"
    """``post`` a new message, or for a changed item ``edit`` it, ``reply`` to it, ``repost`` it."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A destination's proof of a post: its id there and where to see it."""

    remote_id: str
    url: str | None = None


class DeliveryState(enum.StrEnum):
    """States of a row in the outbox ledger."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    HELD = "held"
    """Waiting for the operator (a flood, an unstable identity, a route's approval): never
    claimed, never too old; ``release`` makes it pending, ``discard`` skipped."""


class Decision(enum.StrEnum):
    """What the pipeline did with an item, as ``why`` reports it."""

    QUEUED = "queued"
    SEEN = "seen"
    """Recorded as seen by the first-run guard, not posted."""
    FILTERED = "filtered"
    UNROUTED = "unrouted"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    """Another source already delivered the same article to every routed destination."""
    RENDER_FAILED = "render-failed"


@dataclass(frozen=True, slots=True)
class Plan:
    """route and render's output for one item: its decision and the messages to enqueue."""

    verdict: Verdict
    decision: Decision
    reason: str
    messages: tuple[Message, ...] = ()
    held: Mapping[str, str] = field(default_factory=dict)
    """Destinations whose message waits for the operator, with why (``held`` in the ledger)."""
