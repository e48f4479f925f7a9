"""Render: Jinja2 templates (always sandboxed) turn an item into a :class:`Message`.

A template defines two blocks, ``title`` and ``body``. The body is HTML with
autoescaping on; ``content`` and ``summary`` are the item's already sanitized
HTML. A destination that speaks another markup gets the body converted.

``link`` and ``image`` are the entry's URLs after the URL policy
(:mod:`newsbote.urls`): ``None`` when the feed's URL is not a safe http(s) URL,
so a template's ``{% if link %}`` leaves the "zum Artikel…" link out and the
rest of the post still goes out. The message carries the same two URLs.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, PackageLoader, TemplateError, select_autoescape
from jinja2.runtime import new_context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup as SafeHTML

from newsbote.config.schema import BotConfig
from newsbote.controls import without_controls
from newsbote.enrich.sanitize import plain_text, sanitize_entry
from newsbote.errors import RenderError
from newsbote.render.limits import Measure, fit
from newsbote.types import Item, Markup, Message
from newsbote.urls import web_url

_MONTHS_DE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
              "September", "Oktober", "November", "Dezember")  # fmt: skip


def format_date(value: datetime | None, language: str) -> str:
    """``29. November 2026, 14:05`` in German, ``29 November 2026, 14:05`` in English."""
    if value is None:
        return ""
    if language == "de":
        return f"{value.day}. {_MONTHS_DE[value.month - 1]} {value.year}, {value:%H:%M}"
    return f"{value.day} {value:%B %Y, %H:%M}"


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What a template may use beyond the item: who posts, in which language."""

    bot: BotConfig
    language: str
    source_title: str


UPDATE_PREFIX = {"de": "Update: ", "en": "Update: "}


class Renderer:
    """Compiles templates once and renders items for destinations."""

    def __init__(self, base_dir: Path | None = None) -> None:
        options: dict[str, Any] = {
            "autoescape": select_autoescape(default=True, default_for_string=True),
            "trim_blocks": False,
        }
        self._compiled: dict[tuple[str | None, str], Any] = {}
        self._globals: dict[int, dict[str, Any]] = {}
        self._builtin = SandboxedEnvironment(
            loader=PackageLoader("newsbote", "render/templates"), **options
        )
        self._user = SandboxedEnvironment(
            loader=FileSystemLoader(str(base_dir or Path.cwd())), **options
        )
        for environment in (self._builtin, self._user):
            environment.filters["date"] = format_date

    def template_name(self, template: str | None, language: str) -> str:
        return template or f"forum.{language}.j2"

    def _template(self, template: str | None, language: str) -> Any:
        """The compiled template, loaded once (templates do not change under a running service)."""
        cached = self._compiled.get((template, language))
        if cached is None:
            cached = self._compiled[(template, language)] = self._load(template, language)
        return cached

    def _context(self, compiled: Any, variables: dict[str, Any]) -> Any:
        """What ``compiled.new_context(variables)`` makes, without walking the template's
        globals (a ChainMap, slow to copy) again on every render: copied once here."""
        plain = self._globals.get(id(compiled))
        if plain is None:  # compiled templates are kept for good: their ids stay theirs
            plain = self._globals[id(compiled)] = dict(compiled.globals)
        return new_context(
            compiled.environment,
            compiled.name,
            compiled.blocks,
            {**plain, **variables},
            True,
            plain,
        )

    def _load(self, template: str | None, language: str) -> Any:
        name = self.template_name(template, language)
        try:
            if template is None:
                return self._builtin.get_template(name)
            return self._user.get_template(template)
        except TemplateError as exc:
            raise RenderError(name, _describe(exc)) from exc
        except OSError as exc:
            raise RenderError(name, f"cannot read: {exc}") from exc

    def check(self, template: str | None, language: str) -> None:
        """Compile ``template`` and make sure it has the two blocks; raise RenderError if not."""
        compiled = self._template(template, language)
        missing = {"title", "body"} - set(compiled.blocks)
        if missing:
            raise RenderError(
                self.template_name(template, language),
                "a template needs {% block title %} and {% block body %}; missing: "
                + ", ".join(sorted(missing)),
            )

    def render(
        self,
        item: Item,
        *,
        destination: str,
        markup: Markup,
        context: RenderContext,
        template: str | None = None,
        limit: int | None = None,
        measure: Measure = len,
        headline: bool = False,
        action: str = "post",
    ) -> Message:
        """The item as ``destination`` gets it: in its ``markup``, within its ``limit``.

        ``headline`` puts the title in bold at the top of the body, for places
        without a title field of their own (chats, toots); it survives any cut.
        ``action`` is the ledger's (post, edit, reply, repost); a reply's title is marked
        as an update ("Update: …").
        """
        compiled = self._template(template, context.language)
        entry = sanitize_entry(item.entry)  # nothing unsanitized is ever rendered
        link, image = web_url(entry.link), web_url(entry.image)
        variables = {
            "title": entry.title,
            # sanitized by nh3 when parsed: safe to insert as HTML
            "content": SafeHTML(entry.content_html),  # noqa: S704
            "summary": SafeHTML(entry.summary_html),  # noqa: S704
            "teaser": item.teaser,
            "link": link,
            "author": entry.author,
            "published": entry.published,
            "categories": list(entry.categories),
            "image": image,
            # a podcast's audio, a video: only those whose URL passes the policy, in its form
            "enclosures": [
                replace(enclosure, url=url)
                for enclosure in entry.enclosures
                if (url := web_url(enclosure.url))
            ],
            "content_has_image": "<img" in entry.content_html,
            "source": context.source_title,
            "bot": context.bot,
            "language": context.language,
        }
        name = self.template_name(template, context.language)
        try:
            ctx = self._context(compiled, variables)
            title = "".join(compiled.blocks["title"](ctx)).strip()
            body = "".join(compiled.blocks["body"](ctx)).strip()
        except KeyError as exc:
            raise RenderError(name, f"missing block {exc}", destination=destination) from exc
        except TemplateError as exc:
            raise RenderError(name, _describe(exc), destination=destination) from exc
        # a template may write control characters too ("{{ '\x01' }}"): no markup takes them
        body = without_controls(body)
        title = without_controls(plain_text(title)) or entry.title or (link or "")
        if action == "reply":
            title = UPDATE_PREFIX.get(context.language, UPDATE_PREFIX["en"]) + title
        if headline:
            body = f"<p><strong>{html.escape(title, quote=False)}</strong></p>{body}"
        try:
            body = fit(body, markup, limit, measure)
        except (ValueError, RecursionError) as exc:  # a converter's parser refused the body
            raise RenderError(
                name, f"cannot convert the post to {markup}: {exc}", destination=destination
            ) from exc
        return Message(
            destination=destination,
            title=title,
            body=body,
            link=link,
            markup=markup,
            image=image,
            action=action,
        )


def _describe(exc: TemplateError) -> str:
    line = getattr(exc, "lineno", None)
    return f"line {line}: {exc.message}" if line else str(exc.message or exc)
