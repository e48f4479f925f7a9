"""From sanitized HTML to each destination's own markup.

=========  ====================================================================
markup     spoken by
=========  ====================================================================
html       the board, email (HTML part)
matrix     Matrix ``org.matrix.custom.html`` (its HTML subset; images as links)
markdown   Discourse, Flarum, NodeBB, Lemmy, Misago, Mattermost (CommonMark/GFM)
discord    Discord (its Markdown; no inline images, no tables)
bbcode     XenForo and phpBB
slack      Slack mrkdwn
telegram   Telegram's HTML subset
text       toots, the plain part of email and Matrix
=========  ====================================================================

Markdown goes through markdownify; the others through :mod:`render.tree`,
each escaping what its dialect would otherwise read as markup. Every ``href``,
``src`` and ``cite`` passes the URL policy (:mod:`newsbote.urls`) on the way
out, whatever the markup: a link that fails it is left as its text, an image
that fails it is dropped.
"""

from __future__ import annotations

import html
import re
from typing import Any

import nh3

from newsbote.render.tree import Writer, parse_fragment, police_urls, unnest_images
from newsbote.types import Markup
from newsbote.urls import link_url, web_url

# -- BBCode (XenForo, phpBB) ---------------------------------------------------

_BB_TAGLIKE = re.compile(r"\[(?=/?[A-Za-z*=])")


class BBCodeWriter(Writer):
    nest_images = True

    def escape(self, text: str) -> str:
        return _BB_TAGLIKE.sub("[plain][[/plain]", text)

    def bold(self, content: str) -> str:
        return f"[b]{content}[/b]"

    def italic(self, content: str) -> str:
        return f"[i]{content}[/i]"

    def underline(self, content: str) -> str:
        return f"[u]{content}[/u]"

    def strike(self, content: str) -> str:
        return f"[s]{content}[/s]"

    def code(self, text: str) -> str:
        return f"[icode]{text.replace('[/icode]', '[/ icode]')}[/icode]"

    def link(self, href: str, content: str) -> str:
        href = href.replace("]", "%5D").replace("'", "%27").replace('"', "%22")
        if content == self.escape(href):
            return f"[url]{href}[/url]"
        return f"[url={href}]{content}[/url]"

    def image(self, src: str, alt: str) -> str:
        return f"[img]{src.replace('[', '%5B')}[/img]"

    def heading(self, level: int, content: str) -> str:
        size = {1: 6, 2: 5, 3: 4}.get(level)
        return f"[size={size}][b]{content}[/b][/size]" if size else f"[b]{content}[/b]"

    def list_block(self, items: list[str], ordered: bool, start: int) -> str:
        opening = "[list=1]" if ordered else "[list]"
        return opening + "\n" + "\n".join(f"[*]{item}" for item in items) + "\n[/list]"

    def quote(self, content: str) -> str:
        return f"[quote]{content}[/quote]"

    def preformatted(self, text: str) -> str:
        return f"[code]{text.replace('[/code]', '[/ code]')}[/code]"


# -- Slack mrkdwn --------------------------------------------------------------


_SLACK_MARKERS = re.compile(r"([*_~`])")


class SlackWriter(Writer):
    def escape(self, text: str) -> str:
        # mrkdwn has no escape character: a zero-width space keeps a literal marker literal
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return _SLACK_MARKERS.sub("\u200b\\1\u200b", text)

    def bold(self, content: str) -> str:
        return f"*{content}*"

    def italic(self, content: str) -> str:
        return f"_{content}_"

    def strike(self, content: str) -> str:
        return f"~{content}~"

    def code(self, text: str) -> str:
        plain = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"`{plain.replace('`', 'ˋ')}`"

    def link(self, href: str, content: str) -> str:
        # Slack reads &amp; &lt; &gt; in a link's target too: a bare & could start one
        target = (
            href.replace("&", "&amp;").replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
        )
        return f"<{target}|{content.replace('|', '¦')}>"

    def image(self, src: str, alt: str) -> str:
        return self.link(src, self.escape(alt) or "🖼")

    def heading(self, level: int, content: str) -> str:
        return f"*{content}*"

    def preformatted(self, text: str) -> str:
        return f"```\n{self.escape(text)}\n```"


# -- Telegram HTML -------------------------------------------------------------


class TelegramWriter(Writer):
    def escape(self, text: str) -> str:
        return html.escape(text, quote=False)

    def bold(self, content: str) -> str:
        return f"<b>{content}</b>"

    def italic(self, content: str) -> str:
        return f"<i>{content}</i>"

    def underline(self, content: str) -> str:
        return f"<u>{content}</u>"

    def strike(self, content: str) -> str:
        return f"<s>{content}</s>"

    def code(self, text: str) -> str:
        return f"<code>{self.escape(text)}</code>"

    def link(self, href: str, content: str) -> str:
        return f'<a href="{html.escape(href, quote=True)}">{content}</a>'

    def image(self, src: str, alt: str) -> str:
        return self.link(src, self.escape(alt) or "🖼")

    def heading(self, level: int, content: str) -> str:
        return f"<b>{content}</b>"

    def quote(self, content: str) -> str:
        return f"<blockquote>{content}</blockquote>"

    def preformatted(self, text: str) -> str:
        return f"<pre>{self.escape(text)}</pre>"


# -- plain text ----------------------------------------------------------------


class TextWriter(Writer):
    # A bare URL is followed by a space: text that touched it (")0", "]") would otherwise
    # read as part of the link to a client that links URLs in plain text. Runs of spaces
    # are folded afterwards.
    def link(self, href: str, content: str) -> str:
        text = content.strip()
        if not text or text == href or text.rstrip("/") == href.rstrip("/"):
            return f"{href} "
        return f"{text} ({href})"

    def image(self, src: str, alt: str) -> str:
        return f"{alt}: {src} " if alt else f"{src} "


# -- Matrix HTML subset --------------------------------------------------------

MATRIX_TAGS = {
    "font", "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol",
    "sup", "sub", "li", "b", "i", "u", "strong", "em", "strike", "s", "code", "hr", "br",
    "div", "table", "thead", "tbody", "tr", "th", "td", "caption", "pre", "span", "details",
    "summary",
}  # fmt: skip
_MATRIX_RENAMES = {"figure": "div", "section": "div", "article": "div", "dl": "div",
                   "figcaption": "p", "dt": "p", "dd": "p"}  # fmt: skip
_MATRIX_CLEANER = nh3.Cleaner(
    tags=MATRIX_TAGS,
    attributes={"a": {"href"}, "ol": {"start"}},
    url_schemes={"http", "https", "mailto"},
    link_rel=None,
)


def to_matrix_html(fragment: str) -> str:
    """Matrix clients show only ``mxc://`` images: an image becomes a link to it."""
    tree = unnest_images(police_urls(parse_fragment(fragment)))
    for element in tree.iter():
        if element.tag in _MATRIX_RENAMES:  # blocks Matrix does not know keep their breaks
            element.tag = _MATRIX_RENAMES[element.tag]
    for image in list(tree.iter("img")):
        src = image.get("src")
        link = image.makeelement("a", {"href": src} if src else {})
        # an alt of only spaces would make an invisible link: the picture sign stands in
        link.text = (image.get("alt") or "").strip() or "🖼"
        link.tail = image.tail
        image.getparent().replace(image, link)
    # the text before the first element is text: escaped, or a "<" in it would start a tag
    inner = html.escape(tree.text or "", quote=False) + "".join(html_string(c) for c in tree)
    return _MATRIX_CLEANER.clean(inner).strip()


def html_string(element: Any) -> str:
    from lxml import html as lxml_html

    return str(lxml_html.tostring(element, encoding="unicode"))


# -- HTML (the board, email, webhooks) ------------------------------------------

_POLICIES = {"href": link_url, "src": web_url, "cite": link_url}


def police_html(fragment: str) -> str:
    """``fragment`` with every ``href``, ``src`` and ``cite`` through the URL policy.

    Sanitized HTML (``enrich.sanitize``) writes each attribute as `` name="value"``
    with quotes escaped, so a linear scan can see that every URL already passes;
    only a fragment where one does not (or an attribute is written otherwise) is
    parsed and rewritten.
    """
    if _urls_pass(fragment):
        return fragment
    root = police_urls(parse_fragment(fragment))
    return html.escape(root.text or "", quote=False) + "".join(html_string(c) for c in root)


def _urls_pass(fragment: str) -> bool:
    """Whether every URL attribute of ``fragment`` is in its canonical form and passes."""
    lower = fragment.lower()
    for name, policy in _POLICIES.items():
        start = lower.find(name)
        while start >= 0:
            after = start + len(name)
            equals = after
            while equals < len(lower) and lower[equals] in " \t\n\r\f":
                equals += 1
            if equals >= len(lower) or lower[equals] != "=":
                start = lower.find(name, after)  # a word, or an attribute without a value
                continue
            canonical = (
                start > 0 and fragment[start - 1] == " " and fragment.startswith(f'{name}="', start)
            )
            end = fragment.find('"', after + 2) if canonical else -1
            if end < 0:
                return False
            value = html.unescape(fragment[after + 2 : end])
            if policy(value) != value:
                return False
            start = lower.find(name, end)
    return True


# -- dispatch ------------------------------------------------------------------

_WRITERS: dict[Markup, Writer] = {
    Markup.BBCODE: BBCodeWriter(),
    Markup.SLACK: SlackWriter(),
    Markup.TELEGRAM: TelegramWriter(),
    Markup.TEXT: TextWriter(),
}


def convert(fragment: str, markup: Markup) -> str:
    """``fragment`` (sanitized HTML) in ``markup``."""
    if markup is Markup.HTML:
        return police_html(fragment).strip()
    if markup is Markup.MATRIX:
        return to_matrix_html(fragment)
    if markup in (Markup.MARKDOWN, Markup.DISCORD):
        from newsbote.render import markdown  # markdownify (14 MB) only when a destination needs it

        if markup is Markup.MARKDOWN:
            return markdown.to_markdown(fragment)
        unnested = unnest_images(police_urls(parse_fragment(fragment)))
        inner = html.escape(unnested.text or "") + "".join(html_string(child) for child in unnested)
        return markdown.to_discord(inner)
    return _WRITERS[markup].render(fragment)
