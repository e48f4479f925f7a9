"""Fetching sources: an asyncio HTTP client with caching headers, caps and an SSRF guard."""

from newsbote.fetch.client import Fetcher
from newsbote.fetch.guard import is_public_address
from newsbote.fetch.schedule import next_check

__all__ = ["Fetcher", "is_public_address", "next_check"]
