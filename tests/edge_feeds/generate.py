"""Write the edge feed documents of the differential test (``python tests/edge_feeds/generate.py``).

Each document is small and hand-written from its spec (RSS 0.90, 0.91, 0.92, 1.0, 2.0, Atom
0.3 and 1.0, JSON Feed 1.0 and 1.1, Media RSS, the iTunes and Dublin Core modules) to show
one thing a reader can lose: the class of issue 13 it belongs to is in ``index.toml``. The
script writes the files and ``index.toml`` (URL and HTTP headers per document); the files
are committed, so the tests never run it.
"""

from __future__ import annotations

import base64
from pathlib import Path

HERE = Path(__file__).resolve().parent

RSS2 = '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"{ns}><channel>\n<title>Edge</title><link>https://edge.example/</link><description>edge cases</description>\n{items}\n</channel></rss>\n'
ATOM10 = '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"{ns}>\n<title>Edge</title><id>urn:edge</id><updated>2024-01-02T03:04:05Z</updated><link href="https://edge.example/"/>\n{entries}\n</feed>\n'
ATOM03 = '<?xml version="1.0" encoding="utf-8"?>\n<feed version="0.3" xmlns="http://purl.org/atom/ns#">\n<title>Edge</title><link rel="alternate" type="text/html" href="https://edge.example/"/><modified>2024-01-02T03:04:05Z</modified>\n{entries}\n</feed>\n'
MEDIA = ' xmlns:media="http://search.yahoo.com/mrss/"'
DC = ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
CONTENT = ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'


def rss2(items: str, ns: str = "") -> str:
    return RSS2.format(items=items, ns=ns)


def atom10(entries: str, ns: str = "") -> str:
    return ATOM10.format(entries=entries, ns=ns)


def atom03(entries: str) -> str:
    return ATOM03.format(entries=entries)


ITEM = "<item><title>{title}</title><link>https://edge.example/{slug}</link><guid>https://edge.example/{slug}</guid><pubDate>Tue, 02 Jan 2024 03:04:05 GMT</pubDate>{rest}</item>"


def item(slug: str, title: str = "A post", rest: str = "") -> str:
    return ITEM.format(slug=slug, title=title, rest=rest)


ENTRY = '<entry><title>{title}</title><id>urn:edge:{slug}</id><link href="https://edge.example/{slug}"/><updated>2024-01-02T03:04:05Z</updated>{rest}</entry>'


def entry(slug: str, title: str = "A post", rest: str = "") -> str:
    return ENTRY.format(slug=slug, title=title, rest=rest)


ENTRY03 = '<entry><title>{title}</title><id>urn:edge:{slug}</id><link rel="alternate" type="text/html" href="https://edge.example/{slug}"/><issued>2024-01-02T03:04:05Z</issued><modified>2024-01-03T03:04:05Z</modified>{rest}</entry>'


def entry03(slug: str, title: str = "A post", rest: str = "") -> str:
    return ENTRY03.format(slug=slug, title=title, rest=rest)


HTML = "&lt;p&gt;Some &lt;b&gt;bold&lt;/b&gt; text and &lt;a href=&quot;https://edge.example/more&quot;&gt;a link&lt;/a&gt;.&lt;/p&gt;"
BASE64_HTML = base64.b64encode(
    b'<p>Decoded <a href="https://edge.example/b64">from base64</a>.</p>'
).decode()

# name: (issue class, document text or bytes, extra index keys)
DOCUMENTS: dict[str, tuple[str, str | bytes, dict[str, str]]] = {
    # -- 1. named HTML entities (undefined in XML) ----------------------------------------
    "entities_rss2.xml": (
        "1 named HTML entities",
        rss2(
            item(
                "e1",
                "caf&eacute; text",
                "<description>Hello&nbsp;world &mdash; part two &amp; &#8220;three&#8221;</description>",
            )
            + item(
                "e2",
                "AT&amp;T &copy; 2024",
                "<description><![CDATA[<p>kept &nbsp; raw &eacute; in CDATA</p>]]></description>",
            )
        ),
        {},
    ),
    "entities_atom10.xml": (
        "1 named HTML entities",
        atom10(
            entry(
                "e1",
                "Caf&eacute; &ndash; Bar",
                '<summary>Hello&nbsp;world &mdash; part two &hellip; &lt;end&gt;</summary><content type="html">&lt;p&gt;na&iuml;ve &rsquo;quote&rsquo; &amp;amp;&lt;/p&gt;</content>',
            )
        ),
        {},
    ),
    # -- 2. elements never read -----------------------------------------------------------
    "rss2_body.xml": (
        "2 RSS <body>",
        rss2(
            item(
                "b1",
                rest='<description>Short.</description><body xmlns="http://www.w3.org/1999/xhtml"><p>The <em>whole</em> article from body.</p></body>',
            )
        ),
        {},
    ),
    "rss2_xhtml_body.xml": (
        "2 RSS <xhtml:body>",
        rss2(
            item(
                "b2",
                rest='<description>Short.</description><xhtml:body><p>The <em>whole</em> article from xhtml:body, <a href="https://edge.example/x">linked</a>.</p></xhtml:body>',
            ),
            ns=' xmlns:xhtml="http://www.w3.org/1999/xhtml"',
        ),
        {},
    ),
    "rss2_fullitem.xml": (
        "2 RSS <fullitem>",
        rss2(item("b3", rest=f"<description>Short.</description><fullitem>{HTML}</fullitem>")),
        {},
    ),
    "atom10_xhtml_title_summary.xml": (
        "2 Atom 1.0 type=xhtml title and summary",
        atom10(
            entry(
                "x1",
                '<div xmlns="http://www.w3.org/1999/xhtml">An <em>xhtml</em> title</div>',
                '<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>An <b>xhtml</b> summary with <a href="https://edge.example/s">a link</a>.</p></div></summary>',
            ).replace("<title>", '<title type="xhtml">', 1)
        ),
        {},
    ),
    "atom03_xhtml_title_summary.xml": (
        "2 Atom 0.3 xhtml title and summary",
        atom03(
            entry03(
                "x2",
                '<div xmlns="http://www.w3.org/1999/xhtml">An <em>xhtml</em> title</div>',
                '<summary type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml"><p>An <b>xhtml</b> summary.</p></div></summary>',
            ).replace("<title>", '<title type="application/xhtml+xml" mode="xml">', 1)
        ),
        {},
    ),
    "rss2_unescaped_markup.xml": (
        "2 unescaped markup in <description> and <title>",
        rss2(
            item(
                "u1",
                "A <em>big</em> day",
                '<description>Some <b>bold</b> text and <a href="https://edge.example/u">a link</a> after.</description>',
            )
        ),
        {},
    ),
    "atom03_base64.xml": (
        "2 mode=base64 content",
        atom03(
            entry03("b64", rest=f'<content type="text/html" mode="base64">{BASE64_HTML}</content>')
        ),
        {},
    ),
    "atom10_media_group.xml": (
        "2 media:group/media:description (YouTube)",
        atom10(
            entry(
                "yt",
                "A video",
                '<media:group><media:title>A video</media:title><media:content url="https://edge.example/v/yt.swf" type="application/x-shockwave-flash" width="640" height="390"/><media:thumbnail url="https://edge.example/vi/yt/hqdefault.jpg" width="480" height="360"/><media:description>What the video is about, in full.</media:description></media:group>',
            ),
            ns=MEDIA,
        ),
        {},
    ),
    "rss2_enclosure.xml": (
        "2 enclosures (podcast audio)",
        rss2(
            item(
                "p1",
                "Episode 1",
                '<description>Listen.</description><enclosure url="https://edge.example/ep1.mp3" length="12345678" type="audio/mpeg"/>',
            )
        ),
        {},
    ),
    "atom10_enclosure.xml": (
        "2 enclosures (Atom rel=enclosure)",
        atom10(
            entry(
                "p2",
                "Episode 2",
                '<summary>Listen.</summary><link rel="enclosure" href="https://edge.example/ep2.m4a" type="audio/x-m4a" length="2345"/>',
            )
        ),
        {},
    ),
    "rss2_media_content_thumbnail.xml": (
        "2 media:content and media:thumbnail as images",
        rss2(
            item(
                "m1",
                "With media:content",
                '<description>Pictured.</description><media:content url="https://edge.example/m1.jpg" medium="image" width="800" height="600"/>',
            )
            + item(
                "m2",
                "With media:thumbnail",
                '<description>Pictured.</description><media:thumbnail url="https://edge.example/m2.jpg" width="120" height="90"/>',
            ),
            ns=MEDIA,
        ),
        {},
    ),
    # -- 3. encoding -----------------------------------------------------------------------
    "latin1_label_cp1252_bytes.xml": (
        "3 windows-1252 bytes under an ISO-8859-1 label",
        rss2(
            item(
                "w1",
                "It\u2019s \u201cquoted\u201d \u2014 caf\u00e9",
                "<description>Smart \u2018quotes\u2019 \u2026 and \u20ac5</description>",
            )
        )
        .replace('encoding="utf-8"', 'encoding="ISO-8859-1"')
        .encode("cp1252"),
        {},
    ),
    "latin1_header_cp1252_bytes.xml": (
        "3 windows-1252 bytes under an ISO-8859-1 HTTP charset",
        rss2(
            item(
                "w2", "It\u2019s \u201cquoted\u201d", "<description>Dash \u2014 done</description>"
            )
        )
        .replace('<?xml version="1.0" encoding="utf-8"?>\n', "")
        .encode("cp1252"),
        {"content_type": "application/rss+xml; charset=ISO-8859-1"},
    ),
    # -- 4. relative URLs ------------------------------------------------------------------
    "atom10_xml_base.xml": (
        "4 xml:base on the feed and on an entry",
        atom10(
            entry(
                "r1",
                rest='<content type="html">&lt;p&gt;&lt;a href="page.html"&gt;relative to the feed base&lt;/a&gt; &lt;img src="img/a.png"&gt;&lt;/p&gt;</content>',
            )
            + entry(
                "r2",
                rest='<content type="html">&lt;p&gt;&lt;a href="page.html"&gt;relative to the entry base&lt;/a&gt;&lt;/p&gt;</content>',
            )
            .replace("<entry>", '<entry xml:base="https://other.example/posts/">', 1)
            .replace('href="https://edge.example/r2"', 'href="r2.html"')
        ).replace("<feed ", '<feed xml:base="https://base.example/blog/" ', 1),
        {},
    ),
    "rss2_xml_base.xml": (
        "4 xml:base on an RSS channel and item",
        rss2(
            item(
                "r3", rest='<description>&lt;a href="rel/three"&gt;three&lt;/a&gt;</description>'
            ).replace("<item>", '<item xml:base="https://item.example/dir/">', 1)
        ).replace("<channel>", '<channel xml:base="https://channel.example/">', 1),
        {},
    ),
    "content_location.xml": (
        "4 HTTP Content-Location as the base",
        atom10(
            entry(
                "c1",
                rest='<content type="html">&lt;a href="relative/page"&gt;where?&lt;/a&gt;</content>',
            ).replace('href="https://edge.example/c1"', 'href="c1"')
        ),
        {
            "content_location": "https://moved.example/feeds/atom.xml",
            "url": "https://edge.example/feed.xml",
        },
    ),
    # -- 5. smaller ------------------------------------------------------------------------
    "guid_not_permalink.xml": (
        "5 guid isPermaLink=false without a link",
        rss2(
            '<item><title>No link</title><guid isPermaLink="false">tag:edge.example,2024:1</guid><description>Text.</description></item>'
            "<item><title>Permalink guid</title><guid>https://edge.example/permalink</guid><description>Text.</description></item>"
        ),
        {},
    ),
    "media_title.xml": (
        "5 media:title does not win over title",
        rss2(
            item(
                "mt",
                "The real title",
                "<description>Text.</description><media:title>A media title</media:title>",
            ),
            ns=MEDIA,
        ),
        {},
    ),
    "foreign_description.xml": (
        "5 a description element of another namespace",
        rss2(
            item(
                "fd",
                rest='<description>The real description.</description><x:description xmlns:x="https://other.example/ns">Not this one.</x:description>',
            )
        ),
        {},
    ),
    "several_dates_rss2.xml": (
        "5 several date elements (RSS)",
        rss2(
            '<item><title>Dates</title><link>https://edge.example/d1</link><pubDate>Tue, 02 Jan 2024 03:04:05 GMT</pubDate><dc:date>2024-02-03T04:05:06Z</dc:date><atom:updated xmlns:atom="http://www.w3.org/2005/Atom">2024-03-04T05:06:07Z</atom:updated></item>'
            "<item><title>Only dc:date</title><link>https://edge.example/d2</link><dc:date>2024-02-03T04:05:06+02:00</dc:date></item>",
            ns=DC,
        ),
        {},
    ),
    "several_dates_atom10.xml": (
        "5 several date elements (Atom)",
        atom10(
            '<entry><title>Dates</title><id>urn:d</id><link href="https://edge.example/d3"/><published>2024-01-01T00:00:00Z</published><updated>2024-01-05T00:00:00Z</updated><dc:date>2023-12-31T00:00:00Z</dc:date></entry>',
            ns=DC,
        ),
        {},
    ),
    "script_in_title.xml": (
        "5 script text in titles",
        atom10(
            entry("s1", rest="<summary>Text.</summary>").replace(
                "<title>A post</title>",
                '<title type="html">&lt;script&gt;alert(1)&lt;/script&gt;Safe &lt;b&gt;title&lt;/b&gt;</title>',
            )
        )
        + "",
        {},
    ),
    "script_in_rss_title.xml": (
        "5 script text in titles (RSS)",
        rss2(
            item(
                "s2",
                "&lt;script&gt;alert(1)&lt;/script&gt;Visible title",
                "<description>Text.</description>",
            )
        ),
        {},
    ),
    # -- variants ----------------------------------------------------------------------------
    "variant_rss090.xml": (
        "variant RSS 0.90",
        '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">\n<channel><title>Edge 0.90</title><link>https://edge.example/</link><description>d</description></channel>\n<item><title>First</title><link>https://edge.example/090/1</link></item>\n<item><title>Second &amp; last</title><link>https://edge.example/090/2</link></item>\n</rdf:RDF>\n',
        {},
    ),
    "variant_rss091.xml": (
        "variant RSS 0.91",
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<rss version="0.91"><channel><title>Edge 0.91</title><link>https://edge.example/</link><description>d</description><language>en-us</language>\n<item><title>First</title><link>https://edge.example/091/1</link><description>A &lt;b&gt;short&lt;/b&gt; text.</description></item>\n</channel></rss>\n',
        {},
    ),
    "variant_rss092.xml": (
        "variant RSS 0.92",
        '<?xml version="1.0"?>\n<rss version="0.92"><channel><title>Edge 0.92</title><link>https://edge.example/</link><description>d</description>\n<item><description>An item with no title, only a description and an enclosure.</description><enclosure url="https://edge.example/092.mp3" length="100" type="audio/mpeg"/><category domain="https://edge.example/c">Tech</category></item>\n</channel></rss>\n',
        {},
    ),
    "variant_rss10.xml": (
        "variant RSS 1.0 (RDF)",
        '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">\n<channel rdf:about="https://edge.example/rss"><title>Edge 1.0</title><link>https://edge.example/</link><description>d</description><dc:language>de</dc:language><items><rdf:Seq><rdf:li resource="https://edge.example/10/1"/></rdf:Seq></items></channel>\n<item rdf:about="https://edge.example/10/1"><title>Erster</title><link>https://edge.example/10/1</link><description>Kurz.</description><content:encoded>&lt;p&gt;Der ganze &lt;a href="/lang"&gt;Text&lt;/a&gt;.&lt;/p&gt;</content:encoded><dc:creator>Anna</dc:creator><dc:date>2024-01-02T03:04:05+01:00</dc:date><dc:subject>Technik</dc:subject></item>\n</rdf:RDF>\n',
        {},
    ),
    "variant_rss20.xml": (
        "variant RSS 2.0",
        rss2(
            item(
                "20",
                "Full item",
                '<description>Summary.</description><content:encoded><![CDATA[<p>Full <a href="/rel">text</a> <img src="/i.png"></p>]]></content:encoded><author>anna@edge.example (Anna)</author><dc:creator>Anna</dc:creator><category>One</category><category>Two</category><comments>https://edge.example/20#c</comments>',
            ),
            ns=CONTENT + DC,
        ).replace(
            "<description>edge cases</description>",
            "<description>edge cases</description><language>en-GB</language>",
        ),
        {},
    ),
    "variant_atom03.xml": (
        "variant Atom 0.3",
        atom03(
            entry03(
                "03",
                "Atom 0.3 entry",
                '<author><name>Bob</name></author><summary type="text/plain">Plain summary.</summary><content type="text/html" mode="escaped">&lt;p&gt;Escaped &lt;a href="https://edge.example/e"&gt;content&lt;/a&gt;&lt;/p&gt;</content>',
            )
        ),
        {},
    ),
    "variant_atom10.xml": (
        "variant Atom 1.0",
        atom10(
            entry(
                "10",
                "Atom 1.0 entry",
                '<published>2024-01-01T00:00:00-05:00</published><author><name>Carol</name><email>c@edge.example</email></author><category term="news" label="News"/><summary type="text">Plain &lt;not a tag&gt; summary.</summary><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>XHTML <a href="/x">content</a>.</p></div></content>',
            )
        ).replace(
            "<title>Edge</title>",
            '<title type="text">Edge</title><link rel="self" href="https://edge.example/atom.xml"/>',
        ),
        {},
    ),
    "variant_jsonfeed10.json": (
        "variant JSON Feed 1.0",
        '{"version": "https://jsonfeed.org/version/1", "title": "Edge JSON 1.0", "home_page_url": "https://edge.example/", "feed_url": "https://edge.example/feed.json", "items": ['
        '{"id": "1", "url": "https://edge.example/j1", "title": "HTML item", "content_html": "<p>Some <a href=\\"https://edge.example/l\\">html</a>.</p>", "summary": "A summary.", "date_published": "2024-01-02T03:04:05Z", "date_modified": "2024-01-03T03:04:05Z", "author": {"name": "Dana"}, "tags": ["a", "b"], "image": "https://edge.example/j1.png", "attachments": [{"url": "https://edge.example/j1.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 999}]},'
        '{"id": "2", "url": "https://edge.example/j2", "content_text": "Only text, no title."}'
        "]}",
        {"content_type": "application/feed+json"},
    ),
    "variant_jsonfeed11.json": (
        "variant JSON Feed 1.1",
        '{"version": "https://jsonfeed.org/version/1.1", "title": "Edge JSON 1.1", "home_page_url": "https://edge.example/", "language": "fr-CA", "items": ['
        '{"id": "https://edge.example/k1", "url": "https://edge.example/k1", "title": "Élément", "content_html": "<p>Caf\u00e9 &amp; cr\u00e8me</p>", "date_published": "2024-01-02T03:04:05+02:00", "authors": [{"name": "Eve"}], "language": "fr"}'
        "]}",
        {"content_type": "application/feed+json"},
    ),
}


def main() -> None:
    index = [
        "# The edge documents of tests/test_differential.py; written by generate.py, do not edit.",
        "",
    ]
    for name, (what, document, extra) in DOCUMENTS.items():
        data = document if isinstance(document, bytes) else document.encode("utf-8")
        (HERE / name).write_bytes(data)
        index += ["[[document]]", f'file = "{name}"', f'class = "{what}"']
        index += [f'{key} = "{value}"' for key, value in extra.items()]
        index.append("")
    (HERE / "index.toml").write_text("\n".join(index), encoding="utf-8")


if __name__ == "__main__":
    main()
