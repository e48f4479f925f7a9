"""Every configuration snippet in the destination docs is a valid newsbote config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newsbote.config import parse_config

DOCS = Path(__file__).resolve().parent.parent / "docs" / "destinations"
PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_the_destination_page_configures_a_working_destination(page: Path) -> None:
    (snippet,) = re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    loaded = parse_config(snippet, page)
    (destination,) = loaded.config.destinations
    assert destination.kind == page.stem
    assert loaded.config.routes[0].destinations == [destination.name]
