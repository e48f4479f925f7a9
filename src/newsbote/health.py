"""Health of sources and destinations: a pure state machine and what the bot says of it.

::

    ok ──failure──► failing ──(410, or failing for [health] disable_after)──► disabled
     ▲                 │                                                        │
     └────success──────┘◄──────────── newsbote enable (or a config change) ─────┘

A destination fails by delivery rounds: a round in which nothing arrived and something
failed counts one failure; a permanent 401, 403, 404 or 410 disables it at once (bad
credentials, missing permission, gone), and its deliveries wait, pending, until it is
enabled again. Nothing here does I/O: the store keeps the states
(:mod:`newsbote.store.health`), these functions compute the next one and the text
that announces it.

What was last announced is kept beside the state (``announced``): a state is
announced when it differs from that, so "failing" is said once (after ``notify_after``
failures, so that a blip says nothing), not at every poll.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

State = Literal["ok", "failing", "disabled"]
Language = Literal["de", "en"]

# reason codes (the ``reason`` of a failing or disabled state)
GONE = "gone"
NOT_A_FEED = "not_a_feed"
TOO_LARGE = "too_large"
FAILING_DAYS = "failing_days"
FLOODING = "flooding"
UNSTABLE_IDENTITY = "unstable_identity"
BAD_CREDENTIALS = "bad_credentials"
FORBIDDEN = "forbidden"
DESTINATION_GONE = "destination_gone"
REASONS = frozenset(
    {
        GONE,
        NOT_A_FEED,
        TOO_LARGE,
        FAILING_DAYS,
        FLOODING,
        UNSTABLE_IDENTITY,
        BAD_CREDENTIALS,
        FORBIDDEN,
        DESTINATION_GONE,
    }
)

ERROR_CHARS = 300
"""An error quoted in a notice is cut to this many characters (a server chose its words)."""


@dataclass(frozen=True, slots=True)
class Health:
    """The health of one source or destination."""

    name: str
    state: State = "ok"
    since: datetime | None = None
    """When the failures began (failing or disabled); None when ok."""
    failures: int = 0
    """Failed polls (a source) or delivery rounds (a destination) in a row."""
    last_error: str | None = None
    reason: str | None = None
    """A reason code (see :data:`REASONS`)."""
    reason_text: str | None = None
    announced: State = "ok"
    """The state the operator was last told of."""


SourceHealth = Health
DestinationHealth = Health


# -- what went wrong, and what to do ---------------------------------------------------

_HTTP = re.compile(r"HTTP (\d{3})\b")
_SMTP = re.compile(r"SMTP (\d{3})\b")
_WORDS = re.compile(r"[a-z_]+")
# platforms that answer 200 with an error code (Slack's Web API): the code's meaning
_API_ERRORS = {
    "invalid_auth": 401,
    "not_authed": 401,
    "token_revoked": 401,
    "token_expired": 401,
    "account_inactive": 401,
    "not_in_channel": 403,
    "restricted_action": 403,
    "missing_scope": 403,
    "channel_not_found": 404,
    "is_archived": 410,
}


@dataclass(frozen=True, slots=True)
class Problem:
    """An error as the health machine sees it: a class and the action it asks for."""

    kind: str
    """``http_403``, ``tls``, ``dns``, ``timeout``, ``connection``, ``not_a_feed``,
    ``too_large``, ``internal`` or ``other``."""
    status: int | None = None


def status_of(message: str, http_status: int | None = None) -> int | None:
    """The HTTP status an error names (``"HTTP 503 …"``), or ``http_status``."""
    if http_status is not None:
        return http_status
    match = _HTTP.search(message[:200])
    return int(match.group(1)) if match else None


def classify(message: str, http_status: int | None = None) -> Problem:
    """Which kind of problem a fetch, parse or delivery error is (newsbote's own words)."""
    status = status_of(message, http_status)
    head = message[:400].lower()
    if status is None:
        status = next((_API_ERRORS[w] for w in _WORDS.findall(head) if w in _API_ERRORS), None)
    if "not a usable feed" in head and ("exceeds" in head or "too large" in head):
        return Problem(TOO_LARGE, status)
    if "not a usable feed" in head or "not an rss" in head:
        return Problem(NOT_A_FEED, status)
    if "exceeds the cap" in head or "inflates beyond" in head:
        return Problem(TOO_LARGE, status)
    if status is not None and status >= 400:
        return Problem(f"http_{status}", status)
    smtp = _SMTP.search(message[:200])
    if smtp and smtp.group(1) in ("530", "534", "535"):
        return Problem("http_401", None)
    if "authentication" in head or "credentials" in head:
        return Problem("http_401", None)
    if "tls" in head or "certificate" in head:
        return Problem("tls")
    if "no such host" in head or "does not resolve" in head:
        return Problem("dns")
    if "timed out" in head:
        return Problem("timeout")
    if "internal error" in head:
        return Problem("internal")
    if "connect" in head or "closed the connection" in head or "broke off" in head:
        return Problem("connection")
    return Problem("other", status)


_SOURCE_ACTIONS: dict[str, tuple[str, str]] = {
    "http_401": (
        "der Feed verlangt eine Anmeldung: trag die Zugangsdaten in die URL der Quelle ein "
        "oder frag den Anbieter",
        "the feed asks for a login: put the credentials in the source's url or ask the publisher",
    ),
    "http_403": (
        "der Anbieter sperrt mich aus: öffne die Adresse im Browser; lädt sie dort, bitte den "
        "Anbieter, newsbote zuzulassen",
        "the publisher blocks me: open the address in a browser; if it loads there, ask the "
        "publisher to let newsbote in",
    ),
    "http_404": (
        "unter dieser Adresse gibt es den Feed nicht (mehr): such auf der Website die neue "
        "Feed-Adresse und trag sie als url ein",
        "the feed is not at this address (any more): find its new address on the website and "
        "put it in the source's url",
    ),
    "http_410": (
        "der Anbieter hat den Feed für immer entfernt: entferne die Quelle oder gib ihr eine "
        "neue url",
        "the publisher removed the feed for good: remove the source or give it a new url",
    ),
    "http_429": (
        "der Anbieter sagt, ich frage zu oft: gib der Quelle ein längeres interval",
        "the publisher says I ask too often: give the source a longer interval",
    ),
    "http_5xx": (
        "der Server des Anbieters hat Probleme, meist nur für eine Weile: nichts zu tun, "
        "solange es nicht anhält",
        "the publisher's server has trouble, usually for a while only: nothing to do unless "
        "it lasts",
    ),
    "http_4xx": (
        "der Server lehnt die Anfrage ab: prüf die Adresse im Browser",
        "the server refuses the request: check the address in a browser",
    ),
    "tls": (
        "das Zertifikat der Website wird nicht angenommen: prüf die Adresse im Browser; "
        "ist es abgelaufen, sag es dem Anbieter",
        "the site's certificate is not accepted: check the address in a browser; if it has "
        "expired, tell the publisher",
    ),
    "dns": (
        "den Rechnernamen gibt es nicht: prüf die Schreibweise; vielleicht ist die Domain "
        "ausgelaufen",
        "the host name does not resolve: check its spelling; the domain may have lapsed",
    ),
    "timeout": (
        "der Server antwortet nicht rechtzeitig: vielleicht ist er überlastet; prüf die Adresse",
        "the server does not answer in time: it may be overloaded; check the address",
    ),
    "connection": (
        "ich erreiche den Server nicht: prüf die Adresse; vielleicht ist er gerade nicht da",
        "I cannot reach the server: check the address; it may be down for a while",
    ),
    NOT_A_FEED: (
        "die Adresse liefert eine Webseite, keinen Feed: öffne sie im Browser und such dort "
        "den RSS- oder Atom-Link",
        "the address gives a web page, not a feed: open it in a browser and find the RSS or "
        "Atom link there",
    ),
    TOO_LARGE: (
        "der Feed ist größer, als [service] max_bytes erlaubt: erhöhe max_bytes oder frag "
        "nach einem kürzeren Feed",
        "the feed is larger than [service] max_bytes allows: raise max_bytes or ask for a "
        "shorter feed",
    ),
    "internal": (
        "ein Fehler in newsbote selbst: sieh ins Log und melde ihn",
        "an error inside newsbote itself: see the log and report it",
    ),
    "other": (
        "prüf die Adresse im Browser",
        "check the address in a browser",
    ),
}

_DESTINATION_ACTIONS: dict[str, tuple[str, str]] = {
    BAD_CREDENTIALS: (
        "die Zugangsdaten werden abgelehnt: erneuere Token oder Passwort in der Konfiguration",
        "the credentials are refused: renew the token or password in the config",
    ),
    FORBIDDEN: (
        "mir fehlt dort eine Berechtigung (zum Schreiben in den Raum, das Forum, den Thread): "
        "erteile sie",
        "I lack a permission there (to post in the room, forum or thread): grant it",
    ),
    DESTINATION_GONE: (
        "den Raum, Thread oder Endpunkt gibt es dort nicht (mehr): korrigiere die Konfiguration",
        "the room, thread or endpoint does not exist there (any more): correct the config",
    ),
    "other": (
        "die Beiträge warten, es geht nichts verloren",
        "the posts wait, nothing is lost",
    ),
}


def _pick(texts: tuple[str, str], language: Language) -> str:
    return texts[0] if language == "de" else texts[1]


def _action_key(problem: Problem) -> str:
    if problem.kind.startswith("http_") and problem.status is not None:
        status = problem.status
        if f"http_{status}" in _SOURCE_ACTIONS:
            return f"http_{status}"
        return "http_5xx" if status >= 500 else "http_4xx"
    return problem.kind if problem.kind in _SOURCE_ACTIONS else "other"


def source_action(message: str, http_status: int | None, language: Language) -> str:
    """What the operator can do about a source's error (403: the publisher blocks us …)."""
    return _pick(_SOURCE_ACTIONS[_action_key(classify(message, http_status))], language)


def destination_reason(message: str, permanent: bool) -> str | None:
    """The reason code that disables a destination at once, or None (it only fails)."""
    if not permanent:
        return None
    problem = classify(message)
    status = 401 if problem.kind == "http_401" else problem.status
    if status == 401:
        return BAD_CREDENTIALS
    if status == 403:
        return FORBIDDEN
    if status in (404, 410):
        return DESTINATION_GONE
    return None


def destination_action(reason: str | None, language: Language) -> str:
    return _pick(
        _DESTINATION_ACTIONS.get(reason or "other", _DESTINATION_ACTIONS["other"]), language
    )


def short(message: str | None) -> str:
    """An error as quoted in a notice: one line, at most :data:`ERROR_CHARS` characters."""
    text = " ".join((message or "").split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


# -- transitions -----------------------------------------------------------------------


def source_failed(
    health: Health,
    *,
    now: datetime,
    message: str,
    http_status: int | None,
    disable_after: float,
    gone: bool = False,
) -> Health:
    """A failed poll: failing (since the first failure), or disabled when the feed is gone
    (410) or has failed for ``disable_after`` seconds without a break."""
    if health.state == "disabled":
        return replace(health, failures=health.failures + 1, last_error=message)
    since = health.since if health.state == "failing" and health.since else now
    problem = classify(message, http_status)
    code = problem.kind if problem.kind in (NOT_A_FEED, TOO_LARGE) else None
    failing = replace(
        health,
        state="failing",
        since=since,
        failures=health.failures + 1,
        last_error=message,
        reason=code,
        reason_text=None,
    )
    if gone or http_status == 410:
        return replace(failing, state="disabled", reason=GONE, reason_text=message)
    if now - since >= timedelta(seconds=disable_after):
        days = (now - since).total_seconds() / 86400
        text = f"failing for {days:.0f} days: {short(message)}"
        return replace(failing, state="disabled", reason=code or FAILING_DAYS, reason_text=text)
    return failing


def succeeded(health: Health) -> Health:
    """A good poll or delivery round: ok again (``announced`` still says what was told)."""
    return replace(health, state="ok", since=None, failures=0, reason=None, reason_text=None)


def disabled(health: Health, *, now: datetime, reason: str, text: str) -> Health:
    """Disabled for ``reason`` (a flood or an identity change held, decided elsewhere)."""
    return replace(
        health, state="disabled", since=health.since or now, reason=reason, reason_text=text
    )


def destination_round(
    health: Health, *, now: datetime, arrived: int, error: str | None, permanent: bool
) -> Health:
    """A delivery round of one destination: ``arrived`` posts went out, and ``error`` is
    the first error of the round (None: none). Anything arrived: ok. A permanent
    401/403/404/410: disabled at once. Otherwise a failure more."""
    if health.state == "disabled":
        return health
    if arrived or error is None:
        return succeeded(health) if health.state != "ok" else health
    failing = replace(
        health,
        state="failing",
        since=health.since if health.state == "failing" and health.since else now,
        failures=health.failures + 1,
        last_error=error,
    )
    reason = destination_reason(error, permanent)
    if reason is not None:
        return replace(failing, state="disabled", reason=reason, reason_text=short(error))
    return failing


def enabled(health: Health) -> Health:
    """The operator enabled it again: ok, and known to be (nothing more to announce)."""
    return replace(succeeded(health), announced="ok")


# -- announcements ---------------------------------------------------------------------


def due_announcement(health: Health, notify_after: int) -> State | None:
    """The state to announce now, or None: disabled at once, failing only after
    ``notify_after`` failures, ok (recovered) only if a problem was announced."""
    if health.state == "disabled":
        target: State = "disabled"
    elif health.state == "failing":
        if health.failures < notify_after:
            return None
        target = "failing"
    else:
        target = "ok"
    return target if target != health.announced else None


@dataclass(frozen=True, slots=True)
class Text:
    """A notice as the bot says it: a short title and the text."""

    kind: str
    title: str
    text: str


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "?"


def source_text(
    health: Health,
    target: State,
    language: Language,
    *,
    http_status: int | None = None,
    disable_after: float | None = None,
) -> Text:
    """What the bot says when a source starts failing, is disabled, or works again."""
    name = health.name
    error = short(health.last_error)
    de = language == "de"
    if target == "failing":
        action = source_action(health.last_error or "", http_status, language)
        until = (
            health.since + timedelta(seconds=disable_after)
            if health.since and disable_after
            else None
        )
        if de:
            text = (
                f"Die Quelle »{name}« liefert seit {health.failures} Abrufen Fehler ({error}), "
                f"zuerst am {_when(health.since)}. Ich versuche es weiter; {action}."
            )
            if until:
                text += f" Klappt es bis {_when(until)} nicht, schalte ich sie ab."
            return Text("source_failing", f"Quelle »{name}« gestört", text)
        text = (
            f"The source »{name}« has failed {health.failures} polls in a row ({error}), "
            f"first at {_when(health.since)}. I keep trying; {action}."
        )
        if until:
            text += f" If it still fails at {_when(until)}, I will disable it."
        return Text("source_failing", f"Source »{name}« failing", text)
    if target == "disabled":
        action = source_action(health.last_error or "", http_status, language)
        reason = short(health.reason_text or health.last_error)
        if de:
            return Text(
                "source_disabled",
                f"Quelle »{name}« abgeschaltet",
                f"Ich habe die Quelle »{name}« abgeschaltet ({health.reason}): {reason}. "
                f"{action[:1].upper()}{action[1:]}; danach schaltet `newsbote enable {name}` "
                "sie wieder ein.",
            )
        return Text(
            "source_disabled",
            f"Source »{name}« disabled",
            f"I disabled the source »{name}« ({health.reason}): {reason}. "
            f"{action[:1].upper()}{action[1:]}; then `newsbote enable {name}` enables it again.",
        )
    if de:
        text = f"Die Quelle »{name}« liefert wieder."
        if error:
            text += f" Zuletzt war der Fehler: {error}."
        return Text("source_recovered", f"Quelle »{name}« wieder in Ordnung", text)
    text = f"The source »{name}« works again."
    if error:
        text += f" The last error was: {error}."
    return Text("source_recovered", f"Source »{name}« recovered", text)


def destination_text(health: Health, target: State, language: Language) -> Text:
    """What the bot says when a destination starts failing, is disabled, or works again."""
    name = health.name
    error = short(health.last_error)
    de = language == "de"
    if target == "failing":
        if de:
            return Text(
                "destination_failing",
                f"Ziel »{name}« gestört",
                f"Das Ziel »{name}« nimmt seit {health.failures} Runden nichts an ({error}), "
                f"zuerst am {_when(health.since)}. Ich versuche es weiter; "
                f"{destination_action(None, language)}.",
            )
        return Text(
            "destination_failing",
            f"Destination »{name}« failing",
            f"The destination »{name}« has refused everything for {health.failures} rounds "
            f"({error}), first at {_when(health.since)}. I keep trying; "
            f"{destination_action(None, language)}.",
        )
    if target == "disabled":
        action = destination_action(health.reason, language)
        if de:
            return Text(
                "destination_disabled",
                f"Ziel »{name}« abgeschaltet",
                f"Ich habe das Ziel »{name}« abgeschaltet ({health.reason}): {error}. "
                f"{action[:1].upper()}{action[1:]}; danach schaltet `newsbote enable {name}` "
                "es wieder ein. Die Beiträge dafür warten bis dahin, es geht nichts verloren.",
            )
        return Text(
            "destination_disabled",
            f"Destination »{name}« disabled",
            f"I disabled the destination »{name}« ({health.reason}): {error}. "
            f"{action[:1].upper()}{action[1:]}; then `newsbote enable {name}` enables it "
            "again. Its posts wait until then, nothing is lost.",
        )
    if de:
        return Text(
            "destination_recovered",
            f"Ziel »{name}« wieder in Ordnung",
            f"Das Ziel »{name}« nimmt wieder an; die wartenden Beiträge gehen jetzt hinaus.",
        )
    return Text(
        "destination_recovered",
        f"Destination »{name}« recovered",
        f"The destination »{name}« takes posts again; the waiting posts go out now.",
    )


def digest_text(
    sources: list[Health], destinations: list[Health], language: Language
) -> Text | None:
    """The daily digest of open problems; None when there are none."""
    if not sources and not destinations:
        return None
    de = language == "de"
    words = {
        "failing": "gestört" if de else "failing",
        "disabled": "abgeschaltet" if de else "disabled",
        "ok": "ok",
    }
    lines = [
        "Offene Probleme heute:" if de else "Open problems today:",
    ]
    for label, group in (
        ("Quelle" if de else "source", sources),
        ("Ziel" if de else "destination", destinations),
    ):
        for health in group:
            since = f" {'seit' if de else 'since'} {_when(health.since)}" if health.since else ""
            lines.append(
                f"- {label} »{health.name}«: {words[health.state]}{since}"
                f" ({short(health.reason_text or health.last_error)})"
            )
    title = "Tagesbericht: offene Probleme" if de else "Daily digest: open problems"
    return Text("digest", title, "\n".join(lines))
