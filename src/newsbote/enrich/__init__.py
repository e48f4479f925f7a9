"""Enrich: sanitize HTML, derive teasers and lead images."""

from newsbote.enrich.sanitize import first_image, plain_text, sanitize_html
from newsbote.enrich.teaser import make_teaser

__all__ = ["first_image", "make_teaser", "plain_text", "sanitize_html"]
