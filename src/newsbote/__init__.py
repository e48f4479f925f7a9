"""newsbote: a self-hosted news courier.

Watches news sources and posts every new article, once, into the places where a
community talks. The stages live in private-looking packages (``fetch``,
``parse``, ``identify``, ``enrich``, ``route``, ``render``, ``outbox``,
``deliver``, ``store``); ``pipeline`` reads as the map of how one source flows
through them.
"""

__version__ = "0.1.0"
USER_AGENT = f"newsbote/{__version__} (+https://github.com/newsbote/newsbote)"

__all__ = ["USER_AGENT", "__version__"]
