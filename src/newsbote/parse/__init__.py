"""Parse: RSS 0.90-2.0, RSS 1.0 (RDF), Atom 0.3/1.0 and JSON Feed 1.0/1.1 into :class:`ParsedFeed`."""

from newsbote.parse.budget import Budget
from newsbote.parse.decode import decode_text, prepare_xml
from newsbote.parse.feed import parse_feed

__all__ = ["Budget", "decode_text", "parse_feed", "prepare_xml"]
