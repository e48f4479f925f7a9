"""The commented ``newsbote.toml`` that ``newsbote init`` writes.

Its comments are in English whatever ``language`` is (the language of the posts and
the board, not of the file: the documentation it points to is English too), and they
point to the published documentation, since an installed package has no ``docs/``.
"""

from __future__ import annotations

DOCS = "https://github.com/newsbote/newsbote/tree/main/docs"
"""The published documentation, one page per concept."""


def initial_config(
    language: str = "de",
    sources: list[tuple[str, str]] | None = None,
    store: str = "sqlite:///newsbote.db",
) -> str:
    """A commented config with the bot identity, the store, ``sources`` and the board."""
    bot_title = "Ich bring die Post" if language == "de" else "I bring the mail"
    lines = [
        "# newsbote configuration: what to watch and where to post.",
        "# State (seen articles, deliveries) lives in the database, not here.",
        f"# Every option: {DOCS}/configuration.md",
        "",
        '# Language of the posts and the board: "de" or "en".',
        f'language = "{language}"',
        "",
        "# Where state lives. SQLite (default, zero setup) or PostgreSQL for several workers:",
        '#   store = "postgresql://newsbote@db.example.org/newsbote"',
        "# A password belongs in the environment: NEWSBOTE_STORE overrides this line.",
        f'store = "{store}"',
        "",
        "# The identity the bot posts under.",
        "[bot]",
        'name = "News-Bote"',
        f'title = "{bot_title}"',
        "",
        "# The web server of the built-in board.",
        "[web]",
        'host = "127.0.0.1"',
        "port = 8080",
        "",
        "# Polling limits that protect publishers (and you).",
        "[service]",
        'min_interval = "1m"',
        'timeout = "30s"',
        "per_host = 4",
        "# processes = 2   # poll with two processes (helpers) on a machine with two cores",
        "",
        "# Sources: one [[sources]] block per feed. 'newsbote add URL' appends one here.",
        '#   interval    how often to poll (default "15m", never below service.min_interval)',
        "#   first_run   what a new source posts: 1 (default: the newest item), a number,",
        '#               "none", or "since:2026-01-31"; the rest is recorded as seen',
        "#   allow_private = true   permits loopback/private addresses (off for safety)",
    ]
    for name, url in sources or []:
        lines += ["", "[[sources]]", f'name = "{name}"', f'url = "{url}"', 'interval = "15m"']
    lines += [
        "",
        "# Destinations: where posts go. The built-in board shows them at http://HOST:PORT/.",
        "# Other kinds: matrix, email, discourse, xenforo, misago, wordpress, discord,",
        "# mastodon, telegram, slack, webhook, apprise. Each kind has a page in",
        f"# {DOCS}/destinations",
        '# Secrets are written as "env:NAME" or "file:PATH", never as the value. For example:',
        "#   [[destinations]]",
        '#   name = "forum"',
        '#   kind = "xenforo"',
        '#   url = "https://forum.example.org"',
        '#   api_key = "env:NEWSBOTE_XF_KEY"',
        "#   api_user = 1234",
        "#   node_id = 12",
        "[[destinations]]",
        'name = "board"',
        'kind = "board"',
        "",
        '# Routes: which sources post where. "*" means every source.',
        "#   include / exclude   keyword filters on title, text and categories",
        '#   update              what a changed article does: "ignore" (default), "edit",',
        '#                       "reply" or "repost"; min_change = 0.1 skips small fixes',
        "[[routes]]",
        'sources = ["*"]',
        'destinations = ["board"]',
        "",
    ]
    return "\n".join(lines)
