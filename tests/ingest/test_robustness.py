"""Feeds and pages as real sources send them (tests/ingest/corpus, written for these
tests), and the CLI cases of issue 12: each failed before the change it tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.entrypoints.cli import cli
from services.ingest.errors import Rejected
from services.ingest.files import FileRejection, iter_items, read_file
from services.ingest.language import _langid
from services.ingest.pipeline import accept
from services.ingest.prepare import prepare
from shared.ids import article_id
from shared.schemas import RawItem
from tests.ingest import stories
from tests.ingest.helpers import Sent, Site

CORPUS = Path(__file__).parent / "corpus"
FEEDS = CORPUS / "feeds"
PAGES = CORPUS / "pages"


def detect_language(text: str) -> str:
    """What the enrich stage's detector (py3langid) says of a text."""
    return str(_langid().classify(text)[0])


LEGACY = {
    "euc-jp": ("euc_jp", "ja"),
    "shift_jis": ("shift_jis", "ja"),
    "euc-kr": ("euc_kr", "ko"),
    "koi8-r": ("koi8_r", "ru"),
    "tis-620": ("tis_620", "th"),
    "windows-1255": ("cp1255", "he"),
}


def _items(path: Path) -> list[RawItem]:
    entries = list(read_file(path))
    bad = [e for e in entries if isinstance(e, FileRejection)]
    assert not bad, bad
    return [e for e in entries if isinstance(e, RawItem)]


def _page(name: str, env: pytest.MonkeyPatch | None = None) -> object:
    [item] = _items(PAGES / name)
    return prepare(item)


# ---------------------------------------------------------------- feeds


def test_rss_with_a_prefixed_root_is_a_feed(env: pytest.MonkeyPatch) -> None:
    items = _items(FEEDS / "rss2-prefixed-root.rss")
    assert [i.title for i in items] == ["Story 0", "Story 1"]
    assert all("Port Ellery" in (i.body or "") for i in items)


def test_utf16_feeds_with_and_without_bom(env: pytest.MonkeyPatch) -> None:
    rss = _items(FEEDS / "rss2-utf16le-bom.xml")
    assert [i.title for i in rss] == ["Story 0", "Story 1"]
    assert rss[0].source == "Wide Gazette – ünïcödé"
    atom = _items(FEEDS / "atom-prefixed-utf16be-nobom.atom")  # UTF-16BE, no BOM, a:feed
    assert [i.title for i in atom] == ["Entrée 0 – “quoted”", "Entrée 1 – “quoted”"]
    # urn: ids are not links: the entries are records made of their own text.
    assert [(i.kind, i.url) for i in atom] == [("record", None), ("record", None)]
    assert [prepare(i).title for i in atom] == [i.title for i in atom]


def test_rdf_feed(env: pytest.MonkeyPatch) -> None:
    assert [i.title for i in _items(FEEDS / "rss1-rdf.rdf")] == ["RDF story 0", "RDF story 1"]


def test_json_feed_file_is_read_as_a_feed(env: pytest.MonkeyPatch) -> None:
    items = _items(FEEDS / "jsonfeed.json")
    assert [i.title for i in items] == ["Harbour wall", "Harbour wall, again"]
    assert [prepare(i).body.endswith(("One.", "Two.")) for i in items] == [True, True]


def test_sitemap_message_only_for_sitemaps(env: pytest.MonkeyPatch) -> None:
    [rej] = list(read_file(FEEDS / "not-a-feed.xml"))
    assert isinstance(rej, FileRejection)
    assert rej.reason.startswith("bad_xml: root element <catalog>")
    assert "bad_sitemap" not in rej.reason
    [broken] = list(read_file(FEEDS / "broken.rss"))
    assert isinstance(broken, FileRejection)
    assert broken.reason.startswith("bad_feed: not a readable feed")


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_undeclared_legacy_encodings(name: str, env: pytest.MonkeyPatch) -> None:
    codec, language = LEGACY[name]
    path = FEEDS / f"legacy-{name}.xml"
    raw = path.read_bytes()
    assert b"encoding" not in raw  # nothing declared: detected
    items = _items(path)
    assert len(items) == 3
    text = raw.decode(codec)
    for item in items:
        assert item.body and f"<description>{item.body}</description>" in text, item.body
        article = prepare(item)
        assert article.language is None  # nothing declared: the enrich stage detects it
        assert detect_language(article.body) == language, name  # on the decoded text


def test_feed_item_keeps_its_summary_when_the_link_fails(
    ingest_pg: str, site: Site, sent: Sent
) -> None:
    summary = stories.body(stories.HARBOUR[:2])
    other = stories.body(stories.HARBOUR[2:])
    site.add("/caption", stories.page("Photo", ["Fog over the harbour at dawn."]))
    site.add("/full", stories.page("Frost halves the apple harvest", stories.ORCHARD))
    feed = stories.rss2(
        [
            {"title": "Gone", "link": site.url("/gone"), "summary": summary},
            {"title": "Caption", "link": site.url("/caption"), "summary": other},
            {"title": "Full", "link": site.url("/full"), "summary": "Frost hits apples."},
        ]
    )
    site.add("/feed.xml", feed, content_type="application/rss+xml")
    outcomes = {o.title: o for o in accept([RawItem(kind="url", url=site.url("/feed.xml"))])}
    assert outcomes["Gone"].status == "queued"
    assert (outcomes["Gone"].reason or "").startswith("feed_summary: page not used (http_error")
    assert outcomes["Caption"].status == "queued"
    assert (outcomes["Caption"].reason or "").startswith("feed_summary")
    assert outcomes["Full"].reason is None  # the page, longer
    bodies = {a["title"]: a["body"] for a in sent.articles()}
    assert bodies["Gone"] == summary
    assert bodies["Caption"] == other  # the page was a caption: less than the feed gave
    assert bodies["Full"].startswith("Apple growers")


def test_one_minimum_content_rule_for_every_source(
    ingest_pg: str, tmp_path: Path, sent: Sent
) -> None:
    (tmp_path / "one.jsonl").write_text(json.dumps({"title": "T", "text": "Breaking"}) + "\n")
    (tmp_path / "one.rss").write_text(
        stories.rss2([{"title": "T", "link": "", "summary": "Breaking"}])
    )
    items = [e for e in iter_items([tmp_path]) if isinstance(e, RawItem)]
    assert len(items) == 2
    for o in accept(items):
        assert o.status == "rejected" and (o.reason or "").startswith("too_short: 1 word"), o


# ---------------------------------------------------------------- pages


def test_sidebars_and_teasers_are_dropped(env: pytest.MonkeyPatch) -> None:
    truth = json.loads((CORPUS / "pages.truth").read_text(encoding="utf-8"))
    for name in ("sidebar-heavy.html", "sidebar-div-soup.html", "sidebar-div-soup-german.html"):
        article = _page(name)
        assert article.body.split("\n\n") == truth[name], name  # type: ignore[attr-defined]


def test_caption_page_is_no_main_text_unless_kept(env: pytest.MonkeyPatch) -> None:
    [item] = _items(PAGES / "caption-only.html")
    with pytest.raises(Rejected, match="no_main_text"):
        prepare(item)
    env.setenv("NEWSWIRE_INGEST_KEEP_SHORT", "1")
    assert prepare(item).body.startswith("Fog settles over the harbour")


def test_titles_authors_language_source_url(env: pytest.MonkeyPatch) -> None:
    floods = _page("title-with-site-and-date.html")
    assert floods.title == "Floods cut off villages in the north"  # type: ignore[attr-defined]
    assert _page("author-view-all-posts.html").authors == ["Jo Varga"]  # type: ignore[attr-defined]
    assert _page("author-is-a-city.html").authors == []  # type: ignore[attr-defined]
    german = _page("german-marked-en.html")
    assert german.language == "de"  # type: ignore[attr-defined]
    saved = _page("saved-folder/site-from-page.html")
    assert saved.source == "railnews.example"  # type: ignore[attr-defined]
    heavy = _page("sidebar-heavy.html")
    assert heavy.source == "Rail Weekly"  # type: ignore[attr-defined]
    # The page's address is kept; the canonical form is the dedup key and makes the id.
    assert heavy.url == "https://www.railweekly.example/news/night-trains/"  # type: ignore[attr-defined]
    assert heavy.id == article_id("https://railweekly.example/news/night-trains", None, "")  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the CLI


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["ingest", *args])
    return result.exit_code, result.output


def test_exit_codes(ingest_pg: str, tmp_path: Path, sent: Sent) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"title": "Harbour", "text": stories.body(stories.HARBOUR)}) + "\n")
    code, out = _run(str(good))
    assert code == 0 and "summary: 1 read, 1 queued" in out, out
    code, out = _run(str(good))
    assert code == 0 and "1 duplicate" in out, out  # duplicates are fine
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        json.dumps({"title": "Orchard", "text": stories.body(stories.ORCHARD)}) + "\n{bad\n"
    )
    code, out = _run(str(mixed))
    assert code == 1, out
    code, out = _run(str(FEEDS / "broken.rss"))
    assert code == 2 and "summary: 1 read, 1 rejected" in out and "nothing read" not in out
    assert out.count("not a readable feed") == 1  # one reason line per rejection
    code, out = _run("ftp://files.example/news.xml")
    assert code == 2
    assert "ftp://files.example/news.xml: bad_scheme: ftp:// is not read" in out
    assert "no such file" not in out
    assert _run()[0] == 2  # usage error
    assert _run("-q", str(good))[0] == 2  # -q is the full-text query of `articles` only


def test_feed_files_in_a_directory_are_read_and_skips_named(
    ingest_pg: str, tmp_path: Path, sent: Sent
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    for name in ("rss2-prefixed-root.rss", "atom-prefixed-utf16be-nobom.atom", "rss1-rdf.rdf"):
        (root / name).write_bytes((FEEDS / name).read_bytes())
    (root / "photo.jpg").write_bytes(b"\xff\xd8")
    code, out = _run(str(root))
    # Six items read (the corpus feeds tell one story: the copies are near-duplicates).
    assert "summary: 6 read, 1 queued, 5 duplicate, 1 skipped" in out, out
    assert f"skipped {root / 'photo.jpg'}: unsupported file type .jpg" in out
    assert code == 0


def test_help_lists_the_supported_types() -> None:
    out = CliRunner().invoke(cli, ["ingest", "--help"]).output
    for suffix in (".jsonl", ".json", ".txt", ".html", ".rss", ".atom", ".rdf", ".xml.gz"):
        assert suffix in out, suffix
    assert "Exit status" in out


def test_progress_in_files_and_bytes(ingest_pg: str, tmp_path: Path, sent: Sent) -> None:
    for n in range(3):
        (tmp_path / f"s{n}.txt").write_text(f"Story {n}\n\n" + stories.body(stories.HARBOUR))
    result = CliRunner().invoke(cli, ["ingest", "--progress", str(tmp_path)])
    assert "reading 3/3 files" in result.stderr and "kB of" in result.stderr, result.stderr
    quiet = CliRunner().invoke(cli, ["ingest", str(tmp_path)])
    assert "reading" not in quiet.stderr  # not a terminal, no flag: no progress


def test_a_missing_title_is_never_printed_as_none(ingest_pg: str, tmp_path: Path) -> None:
    path = tmp_path / "untitled.jsonl"
    path.write_text(json.dumps({"text": stories.body(stories.ORCHARD)}) + "\n")
    code, out = _run(str(path))  # the whole pipeline, in this process
    assert code == 0 and "1 stored" in out, out
    listed = CliRunner().invoke(cli, ["articles"]).output
    assert "(no title)" in listed and "None" not in listed, listed
