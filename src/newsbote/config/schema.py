"""The configuration schema: every option with its type, default and help.

The file is declarative (what to watch, where to post); state lives in the
store. Durations are written like ``"15m"``, ``"90s"`` or ``"1h"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from newsbote.route import filters

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '15m', found {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError(f"expected a duration like '15m', '90s' or '1h', found {value!r}")


Duration = Annotated[float, BeforeValidator(parse_duration)]


@dataclass(frozen=True, slots=True)
class FirstRun:
    """What a newly added source posts: its newest ``newest`` items, or those since ``since``."""

    newest: int | None = 1
    since: date | None = None

    def describe(self) -> str:
        if self.since is not None:
            return f"items published since {self.since.isoformat()}"
        if self.newest is None:
            return "every item"
        if self.newest == 0:
            return "nothing (everything recorded as seen)"
        return f"the newest {self.newest} item(s)"


def parse_first_run(value: Any) -> FirstRun:
    if isinstance(value, FirstRun):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a number, 'none', 'all' or 'since:YYYY-MM-DD', found {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a number >= 0, found {value}")
        return FirstRun(newest=value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "none":
            return FirstRun(newest=0)
        if text == "all":
            return FirstRun(newest=None)
        if text.isdigit():
            return FirstRun(newest=int(text))
        if text.startswith("since:"):
            try:
                return FirstRun(newest=None, since=date.fromisoformat(text[6:].strip()))
            except ValueError:
                pass
    raise ValueError(f"expected a number, 'none', 'all' or 'since:YYYY-MM-DD', found {value!r}")


FirstRunOption = Annotated[FirstRun, BeforeValidator(parse_first_run)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotConfig(Model):
    """The identity the bot posts under."""

    name: str = Field("News-Bote", description="the bot's display name")
    title: str = Field("Ich bring die Post", description="the bot's user title")
    avatar: str | None = Field(None, description="URL of the bot's avatar image")


class WebConfig(Model):
    """The dashboard and the built-in board."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    page_size: int = Field(20, ge=1, le=200, description="threads per board page")
    allowed_hosts: list[str] | None = Field(
        None,
        description=(
            "host names the board answers to (the Host header); default: [web] host, "
            'localhost, 127.0.0.1 and [::1]; ["*"] allows any host; "*.example.org" its subdomains'
        ),
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _host_patterns(cls, value: list[str] | None) -> list[str] | None:
        for host in value or []:
            name = host.strip()
            wildcard = name.startswith("*.") and "*" not in name[2:]
            if not name or ("*" in name and name != "*" and not wildcard):
                raise ValueError(
                    f"{host!r} is not a host name: give a name, '*', or '*.' before a domain"
                )
        return value


class ServiceConfig(Model):
    """How the polling service behaves."""

    min_interval: Duration = Field(60.0, gt=0, description="no source is polled more often")
    max_interval: Duration = Field(86400.0, gt=0, description="no source waits longer")
    timeout: Duration = Field(30.0, gt=0, description="whole-request timeout per fetch")
    max_bytes: int = Field(10 * 1024 * 1024, gt=0, description="largest body read per fetch")
    per_host: int = Field(4, ge=1, description="concurrent requests per host")
    concurrency: int = Field(100, ge=1, description="concurrent fetches in all")
    jitter: float = Field(0.1, ge=0, le=0.5, description="fraction of the interval to vary by")
    processes: int = Field(
        1,
        ge=1,
        le=64,
        description="processes that poll and deliver: newsbote run starts processes - 1 helpers",
    )
    delivery_lease: Duration = Field(
        120.0,
        ge=1,
        description="how long a claimed delivery is held; a worker that dies frees it after this",
    )


class HealthConfig(Model):
    """Health of sources and destinations: when a problem is announced, and to whom."""

    notify: list[str] = Field(
        [],
        description=(
            "destinations that receive a notice when a source or destination starts failing, "
            "is disabled, recovers, or an item is held"
        ),
    )
    disable_after: Duration = Field(
        7 * 86400.0, gt=0, description="disable a source that has failed without a break this long"
    )
    notify_after: int = Field(
        3, ge=1, description="failed polls or delivery rounds in a row before failing is announced"
    )
    flood_limit: int = Field(
        50, ge=1, description="more new items than this in one poll of a known source is a flood"
    )
    unstable_share: float = Field(
        0.8,
        gt=0,
        le=1,
        description=(
            "this share of a poll's items looking new while their titles or links are known "
            "is an identity change"
        ),
    )
    digest: StrictBool = Field(False, description="send a daily digest of the open problems")
    digest_at: str = Field("08:00", description="when the daily digest is sent (HH:MM)")
    timezone: str = Field("UTC", description="the time zone of digest_at (an IANA name)")

    @field_validator("digest_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, sep, minutes = value.strip().partition(":")
        if not (
            sep
            and hours.isdigit()
            and minutes.isdigit()
            and len(minutes) == 2
            and int(hours) < 24
            and int(minutes) < 60
        ):
            raise ValueError(f"expected a time of day like '08:00', found {value!r}")
        return f"{int(hours):02d}:{minutes}"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; expected an IANA name like 'Europe/Berlin'"
            ) from exc
        return value


class SourceConfig(Model):
    """One feed to watch."""

    name: str = Field(description="unique name used in routes, logs and the store")
    url: str = Field(description="http(s) URL or local file path of the feed")
    interval: Duration = Field(900.0, gt=0, description="how often to poll")
    first_run: FirstRunOption = Field(
        FirstRun(), description="what a newly added source posts: a number, 'none', 'since:DATE'"
    )
    allow_private: StrictBool = Field(
        False,
        description="allow the feed URL on loopback and private addresses (not its article pages)",
    )
    allow_private_pages: StrictBool = Field(
        False,
        description=(
            "allow full-text fetches of article pages on loopback/private addresses; "
            "`allow_private` covers only the feed URL"
        ),
    )
    enabled: StrictBool = True
    language: Literal["de", "en"] | None = None
    fulltext: Literal["auto", "always", "never"] = Field(
        "auto", description="fetch the article page when the feed carries only a teaser"
    )

    @field_validator("name")
    @classmethod
    def _name_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a source name cannot be empty")
        return value

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str) -> str:
        if "://" in value and not value.lower().startswith(("http://", "https://", "file://")):
            raise ValueError(f"expected an http(s) URL or a file path, found {value!r}")
        return value


class DestinationConfig(BaseModel):
    """A place to post; the options past ``name`` and ``kind`` belong to the kind."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    kind: str


FilterOption = Annotated[
    filters.Filter,
    PlainValidator(filters.parse_filter),
    PlainSerializer(filters.print_filter),
    WithJsonSchema({"type": "object", "description": "a filter tree: see docs/filters.md"}),
]
"""A route's filter tree, parsed (patterns compiled) when the config loads."""


class RouteConfig(Model):
    """Which sources post to which destinations, with optional filters."""

    sources: list[str] = Field(["*"], description="source names, or '*' for all")
    destinations: list[str] = Field(min_length=1)
    include: list[str] = Field([], description="post only items mentioning one of these words")
    exclude: list[str] = Field([], description="never post items mentioning one of these words")
    filter: FilterOption | None = Field(
        None,
        description=(
            "a tree of all/any/not over title, summary, content, author, categories, link, "
            "language and max_age (see docs/filters.md)"
        ),
    )
    template: str | None = Field(None, description="path of a Jinja2 template file")
    update: Literal["ignore", "edit", "reply", "repost"] = Field(
        "ignore",
        description="what a changed item does: nothing, edit the post, reply to it, post anew",
    )
    min_change: float = Field(
        0.0, ge=0, le=1, description="pass on an update only if this fraction of words changed"
    )
    approve: StrictBool = Field(
        False,
        description="hold this route's deliveries until released (newsbote held / release / discard)",
    )


class Config(Model):
    """A whole ``newsbote.toml``."""

    language: Literal["de", "en"] = "de"
    store: str = "sqlite:///newsbote.db"
    bot: BotConfig = BotConfig()
    web: WebConfig = WebConfig()
    service: ServiceConfig = ServiceConfig()
    sources: list[SourceConfig] = []
    destinations: list[DestinationConfig] = []
    routes: list[RouteConfig] = []
    health: HealthConfig = HealthConfig()

    @model_validator(mode="after")
    def _notify_destinations_exist(self) -> Config:
        names = {destination.name for destination in self.destinations}
        for name in self.health.notify:
            if name not in names:
                known = ", ".join(sorted(names)) or "none"
                # "found" in the message keeps the loader from appending the whole input
                raise ValueError(
                    f"[health] notify: unknown destination {name!r} (destinations found: {known})"
                )
        return self

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)

    def destination(self, name: str) -> DestinationConfig:
        for destination in self.destinations:
            if destination.name == name:
                return destination
        raise KeyError(name)
