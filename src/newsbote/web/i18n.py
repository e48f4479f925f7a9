"""The board's and dashboard's words in German (default) and English."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "de": {
        "board": "News",
        "threads": "Themen",
        "thread": "Thema",
        "posted": "geschrieben am",
        "edited": "bearbeitet am",
        "page": "Seite",
        "of": "von",
        "newer": "« Neuere",
        "older": "Ältere »",
        "empty": "Noch keine Themen. Der News-Bote bringt sie, sobald die Quellen neue Artikel haben.",
        "back": "← Zur Übersicht",
        "from": "aus",
        "not_found": "Dieses Thema gibt es nicht.",
        "page_not_found": "Diese Seite gibt es nicht.",
        "bad_request": "Diese Adresse versteht das Board nicht.",
        "error": "Das hat nicht geklappt. Bitte später noch einmal versuchen.",
        "replies": "Antworten",
        "author": "Autor",
        "bot": "Bot",
    },
    "en": {
        "board": "News",
        "threads": "Threads",
        "thread": "Thread",
        "posted": "posted on",
        "edited": "edited on",
        "page": "Page",
        "of": "of",
        "newer": "« Newer",
        "older": "Older »",
        "empty": "No threads yet. News-Bote brings them as soon as the sources publish.",
        "back": "← Back to the board",
        "from": "from",
        "not_found": "There is no such thread.",
        "page_not_found": "There is no such page.",
        "bad_request": "The board does not understand this address.",
        "error": "Something went wrong. Please try again later.",
        "replies": "Replies",
        "author": "Author",
        "bot": "Bot",
    },
}


def words(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["de"])
