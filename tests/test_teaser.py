"""Teasers end at a real sentence boundary in German and English."""

from __future__ import annotations

from newsbote.enrich import make_teaser


def test_short_text_is_kept_whole() -> None:
    assert make_teaser("<p>Kurz.</p>") == "Kurz."


def test_german_abbreviations_do_not_end_a_sentence() -> None:
    text = (
        "<p>Viele Dienste, z. B. Nextcloud, laufen darauf. Dr. Müller sagt, u. a. sei das gut, "
        "bzw. sehr gut. Am 3. Oktober waren es 1.000 Nutzer und Version 3.5 kam heraus. "
        "Danach folgt noch viel mehr Text, der nicht mehr in den Anreißer passt.</p>"
    )
    teaser = make_teaser(text, limit=175)
    assert teaser.endswith("Version 3.5 kam heraus.")
    assert not teaser.endswith(("z.", "B.", "Dr.", "u.", "a.", "3.", "bzw."))


def test_english_abbreviations_and_numbers() -> None:
    text = (
        "<p>Mr. Smith paid $3.50 for it, i.e. almost nothing. It was No. 1 in the U.S. charts. "
        "Then a long sentence follows that will certainly not fit into the limit we choose here.</p>"
    )
    teaser = make_teaser(text, limit=90)
    assert (
        teaser
        == "Mr. Smith paid $3.50 for it, i.e. almost nothing. It was No. 1 in the U.S. charts."
    )


def test_no_boundary_cuts_at_a_word_and_marks_the_cut() -> None:
    teaser = make_teaser("<p>" + "Wort " * 100 + "</p>", limit=50)
    assert teaser.endswith(" …")
    assert len(teaser) <= 52
    assert "Wor …" not in teaser


def test_markup_never_leaks_into_the_teaser() -> None:
    teaser = make_teaser('<p>Ein <a href="https://e.org">Link</a> &amp; mehr.</p>')
    assert teaser == "Ein Link & mehr."
