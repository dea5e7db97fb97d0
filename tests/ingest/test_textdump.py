"""Plain-text article dumps: date line, headline, paragraphs, furniture mixed in."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest import furniture
from services.ingest.files import FileRejection, iter_items
from services.ingest.pipeline import accept
from services.ingest.textdump import parse_text_article
from tests.ingest.helpers import Sent

DUMP = """Wednesday, December 6, 2023

Harbour wall to be rebuilt after winter storms

- Advertisement -
The city council of Port Ellery voted on Tuesday to rebuild the old harbour wall after winter
storms opened a breach of nearly forty metres near the fish market.

Advertisement

Engineers told the council that the repair would take two summers.
Latest news
Fishing crews have been landing their catch at a temporary pontoon since January.

Related news
Read more
Ferry timetable changes for the summer

Share this article
SUBSCRIBE
The mayor said work would begin in April.
"""

FURNITURE = [
    "- Advertisement -",
    "Advertisement",
    "Latest news",
    "Related news",
    "Read more",
    "Share this article",
    "SUBSCRIBE",
]


def test_dump_title_date_and_no_furniture(env: pytest.MonkeyPatch) -> None:
    item = parse_text_article(DUMP, "dump.txt")
    assert item.title == "Harbour wall to be rebuilt after winter storms"
    assert item.published == "Wednesday, December 6, 2023"
    assert item.body is not None
    paragraphs = item.body.split("\n\n")
    for line in FURNITURE:
        assert line not in paragraphs
        assert line not in item.body
    assert paragraphs[0].startswith("The city council of Port Ellery voted on Tuesday")
    assert paragraphs[0].endswith("near the fish market.")
    assert "The mayor said work would begin in April." in paragraphs


def test_dump_through_the_pipeline(ingest_pg: str, sent: Sent, tmp_path: Path) -> None:
    path = tmp_path / "harbour.txt"
    path.write_bytes(DUMP.replace("\n", "\r\n").encode("utf-8"))
    items = list(iter_items([path]))
    [outcome] = accept([i for i in items if not isinstance(i, FileRejection)])
    assert outcome.status == "queued"
    [article] = sent.articles()
    assert article["title"] == "Harbour wall to be rebuilt after winter storms"
    assert article["published_at"] == "2023-12-06T00:00:00Z"
    for line in FURNITURE:
        assert line.lower() not in article["body"].lower().split("\n\n")
    assert "Advertisement" not in article["body"]


@pytest.mark.parametrize(
    ("first_line", "expected"),
    [
        ("December 6, 2023", "December 6, 2023"),
        ("6 December 2023", "6 December 2023"),
        ("2023-12-06", "2023-12-06"),
        ("Published: Wed, 06 Dec 2023 09:15:00 +0100", "Wed, 06 Dec 2023 09:15:00 +0100"),
    ],
)
def test_date_line_formats(first_line: str, expected: str) -> None:
    item = parse_text_article(f"{first_line}\n\nHeadline\n\nBody text here.", "x.txt")
    assert (item.title, item.published) == ("Headline", expected)


def test_no_date_line_means_title_first() -> None:
    item = parse_text_article("A headline with 3 numbers, 2023\n\nBody.\n", "x.txt")
    assert item.title == "A headline with 3 numbers, 2023" and item.published is None


def test_date_under_the_headline() -> None:
    item = parse_text_article("Headline\nDecember 6, 2023\n\nBody one.\n\nBody two.", "x.txt")
    assert (item.title, item.published, item.body) == (
        "Headline",
        "December 6, 2023",
        "Body one.\n\nBody two.",
    )


def test_furniture_list_is_data(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    custom = tmp_path / "furniture.txt"
    custom.write_text("# ours\nwerbung\nre:^anzeige\\b.*$\n", encoding="utf-8")
    env.setenv("NEWSWIRE_FURNITURE_FILE", str(custom))
    item = parse_text_article(
        "Titel\n\nErster Absatz.\n- Werbung -\nAnzeige: Jetzt kaufen\nAdvertisement\n", "de.txt"
    )
    # Only the custom list applies now.
    assert item.body == "Erster Absatz.\n\nAdvertisement"
    assert furniture.is_furniture("WERBUNG")
    assert not furniture.is_furniture("Advertisement")


def test_default_furniture_file_lists_the_issue_examples() -> None:
    for line in FURNITURE + ["Subscribe", "* * *", "Read more: Ferry timetables change"]:
        assert furniture.is_furniture(line), line
    for line in ["The council voted to subscribe to the fund.", "Advertisement revenue fell 4%."]:
        assert not furniture.is_furniture(line), line


def test_empty_and_title_only_files_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "title.txt").write_text("December 6, 2023\n\nOnly a title\n")
    reasons = sorted(r.reason for r in iter_items([tmp_path]) if isinstance(r, FileRejection))
    assert reasons == ["empty text file", "no body after the title line"]
