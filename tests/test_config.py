"""Config errors name file, line, key, expected and found, with a hint; edits keep comments."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newsbote.config import (
    NewSource,
    add_source,
    add_sources,
    initial_config,
    load_config,
    remove_source,
)
from newsbote.errors import ConfigError

VALID = """\
language = "de"

[[sources]]
name = "heise"
url = "https://www.heise.de/rss/heise.rdf"

[[sources]]
name = "golem"
url = "https://rss.golem.de/rss.php"
interval = "30m"

[[destinations]]
name = "board"
kind = "board"

[[routes]]
sources = ["*"]
destinations = ["board"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsbote.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value


def test_the_initial_config_is_valid(tmp_path: Path) -> None:
    loaded = load_config(
        write(tmp_path, initial_config("de", [("heise", "https://www.heise.de/rss/heise.rdf")]))
    )
    assert loaded.config.bot.name == "News-Bote"
    assert loaded.config.bot.title == "Ich bring die Post"
    assert loaded.config.sources[0].interval == 900
    assert loaded.config.sources[0].first_run.newest == 1


def test_misspelled_option_names_line_and_suggests(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace('interval = "30m"', 'intervall = "30m"'))
    assert error.line == 10
    assert "unknown option 'intervall'" in str(error)
    assert "did you mean 'interval'?" in str(error)
    assert str(error).startswith(f"{tmp_path / 'newsbote.toml'}:10:")


def test_misspelled_destination_kind_suggests(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace('kind = "board"', 'kind = "bord"'))
    assert "unknown destination kind 'bord'" in str(error)
    assert "did you mean 'board'?" in str(error)
    assert error.line == 14


def test_bad_value_says_expected_and_found(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace('interval = "30m"', 'interval = "soon"'))
    assert "expected a duration" in str(error) and "'soon'" in str(error)
    assert error.line == 10 and error.key == "sources.interval"


def test_route_to_unknown_source_suggests(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace('sources = ["*"]', 'sources = ["heize"]'))
    assert "unknown source 'heize'" in str(error) and "did you mean 'heise'?" in str(error)
    assert error.line == 17


def test_duplicate_names_and_broken_toml(tmp_path: Path) -> None:
    assert "duplicate name 'heise'" in str(error_for(tmp_path, VALID.replace('"golem"', '"heise"')))
    broken = error_for(tmp_path, VALID.replace('name = "golem"', 'name = "golem'))
    assert "not valid TOML" in str(broken) and broken.line == 8


def test_first_run_values(tmp_path: Path) -> None:
    loaded = load_config(
        write(tmp_path, VALID.replace('interval = "30m"', 'first_run = "since:2026-01-31"'))
    )
    assert str(loaded.config.sources[1].first_run.since) == "2026-01-31"
    error = error_for(tmp_path, VALID.replace('interval = "30m"', 'first_run = "latest"'))
    assert "since:YYYY-MM-DD" in str(error)


def test_environment_overrides_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOTE_STORE", "postgresql://bote:secret@db/newsbote")
    monkeypatch.setenv("NEWSBOTE_WEB_PORT", "9090")
    loaded = load_config(write(tmp_path, VALID))
    assert loaded.config.store == "postgresql://bote:secret@db/newsbote"
    assert loaded.config.web.port == 9090


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, 'store = "sqlite:///state/newsbote.db"\n' + VALID))
    assert loaded.config.store == f"sqlite:///{tmp_path / 'state' / 'newsbote.db'}"


def test_many_sources_are_added_in_one_edit(tmp_path: Path) -> None:
    path = write(tmp_path, "# Mein Kommentar\n" + VALID)
    path.chmod(0o600)  # a config may hold tokens
    before = path.stat().st_ino
    urls = [f"https://blog.example.org/feed/{n}.xml" for n in range(200)]
    new = [NewSource(url) for url in urls + urls[:3]]  # three repeats within the batch
    new.append(NewSource("https://rss.golem.de/rss.php"))  # configured already
    names = add_sources(path, new, skip_known=True)
    assert len(names) == 200 == len(set(names))
    assert names[:3] == ["blog.example.org", "blog.example.org-2", "blog.example.org-3"]
    loaded = load_config(path)
    assert [s.url for s in loaded.config.sources][-200:] == urls
    assert path.read_text().startswith("# Mein Kommentar")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.stat().st_ino != before  # replaced whole, not rewritten in place
    assert not list(tmp_path.glob(".*.tmp"))
    assert add_sources(path, [NewSource(urls[0])], skip_known=True) == []
    link = tmp_path / "linked.toml"
    link.symlink_to(path)  # a config kept elsewhere: the file it points to is edited
    add_sources(link, [NewSource("https://example.net/feed")])
    assert link.is_symlink() and "https://example.net/feed" in path.read_text()
    with pytest.raises(ConfigError, match=r"already configured as 'blog\.example\.org'"):
        add_sources(path, [NewSource(urls[0])])


def test_add_and_remove_keep_comments(tmp_path: Path) -> None:
    path = write(
        tmp_path, "# Mein Kommentar\n" + VALID.replace('name = "golem"', 'name = "golem"  # bleibt')
    )
    name = add_source(path, "https://www.example.org/feed.xml", interval="1h")
    assert name == "example.org"
    text = path.read_text()
    assert "# Mein Kommentar" in text and "# bleibt" in text
    assert load_config(path).config.source("example.org").interval == 3600
    with pytest.raises(ConfigError, match="already configured"):
        add_source(path, "https://www.example.org/feed.xml")
    assert remove_source(path, "heise") == "heise"
    text = path.read_text()
    assert "heise.rdf" not in text and "# Mein Kommentar" in text
    assert [s.name for s in load_config(path).config.sources] == ["golem", "example.org"]


@pytest.mark.parametrize(
    ("new", "complaint"),
    [
        (NewSource("https://a.example/feed", interval="15min"), "sources.interval"),
        (NewSource("https://a.example/feed", first_run="lots"), "sources.first_run"),
        (NewSource("ftp://a.example/feed"), "sources.url"),
    ],
    ids=["interval", "first_run", "scheme"],
)
def test_a_refused_addition_leaves_the_file_as_it_was(
    tmp_path: Path, new: NewSource, complaint: str
) -> None:
    """The bad block used to be written before the complaint, and every later command
    then failed on it."""
    path = write(tmp_path, VALID)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=re.escape(complaint)) as caught:
        add_sources(path, [new])
    assert "the file is left unchanged" in str(caught.value)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_one_bad_source_of_many_refuses_the_whole_edit(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    before = path.read_bytes()
    good = [NewSource(f"https://n{n}.example/feed") for n in range(5)]
    with pytest.raises(ConfigError, match=r"sources\.url"):
        add_sources(path, [*good, NewSource("ftp://n.example/feed")])
    assert path.read_bytes() == before


def test_a_removal_that_leaves_the_config_invalid_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "\n[web]\nprot = 8080\n")  # broken already
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="unknown option 'prot'"):
        remove_source(path, "golem")
    assert path.read_bytes() == before


def test_a_removal_may_repair_a_config(tmp_path: Path) -> None:
    """A bad block written by an earlier version (or by hand) can be removed again."""
    path = write(tmp_path, VALID + '\n[[sources]]\nname = "x"\nurl = "ftp://x.example/feed"\n')
    with pytest.raises(ConfigError):
        load_config(path)
    assert remove_source(path, "x") == "x"
    assert [s.name for s in load_config(path).config.sources] == ["heise", "golem"]
