"""Hostile input: property-based tests and a bounded fuzz run over every way in.

Properties, for any input: the parsers (plain-text dumps, JSON Lines, JSON, HTML,
feeds), ``prepare`` and ``accept`` never raise anything but a rejection with a
reason; ``POST /articles`` never answers 5xx, gives one outcome per article and a
reason for each rejection; and every article accepted ("queued") is in the store.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.ingest.files import FileRejection, read_file
from services.ingest.prepare import Rejected, prepare
from shared.schemas import ArticlePayload, RawItem
from tests.faults.report import report

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a hostile or broken source produces: controls, NULs, surrogates escaped,
# right-to-left marks, zero-width joiners, very long words.
nasty_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400
) | st.sampled_from(
    [
        "",
        "\x00\x00\x00",
        "\u202e\u200d\ufeff",
        "A" * 5000,
        "<script>alert(1)</script>",
        "Ünïcödé\r\n\r\nBody with\ttabs\x0b\x0c",
        "2026-13-45\nTitle\n\nBody.",
    ]
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | nasty_text
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["title", "body", "text", "url", "published", "date", "source", "authors", "kind", "html"]
records = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=8), json_values | nasty_text, max_size=8
)


def plausible_record(title: str, body: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"title": title, "body": body, **extra}


plausible = st.builds(
    plausible_record,
    nasty_text,
    nasty_text,
    st.fixed_dictionaries(
        {},
        optional={
            "url": st.sampled_from(
                ["https://example.org/a", "javascript:alert(1)", "http://[::1", "ftp://x", ""]
            )
            | nasty_text,
            "published": st.sampled_from(
                ["2026-01-02", "yesterday", "32/13/2026", "1e309", "0000-00-00T99:99"]
            )
            | nasty_text,
            "authors": st.lists(nasty_text, max_size=3) | nasty_text,
            "kind": st.sampled_from(["record", "html", "bogus"]),
            "html": nasty_text,
        },
    ),
)


def check_entries(entries: list[RawItem | FileRejection]) -> None:
    for entry in entries:
        if isinstance(entry, FileRejection):
            assert entry.reason and entry.reason.strip(), entry
        else:
            assert isinstance(entry, RawItem)
            check_prepare(entry)


def check_prepare(item: RawItem) -> ArticlePayload | None:
    try:
        article = prepare(item)
    except Rejected as exc:
        assert str(exc).strip(), "a rejection needs a reason"
        return None
    assert article.body.strip()
    assert "\x00" not in article.body
    return article


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- file parsers


@FUZZ
@given(data=st.binary(max_size=3000) | nasty_text.map(lambda t: t.encode("utf-8")))
def test_text_dump_any_bytes(tmp_path: Path, data: bytes) -> None:
    check_entries(list(read_file(write(tmp_path, "dump.txt", data))))


@FUZZ
@given(
    lines=st.lists(
        records.map(json.dumps)
        | plausible.map(json.dumps)
        | json_values.map(json.dumps)
        | nasty_text,
        max_size=8,
    ),
    encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]),
)
def test_json_lines_any_records(tmp_path: Path, lines: list[str], encoding: str) -> None:
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines)
    data = text.encode(encoding, errors="replace")
    entries = list(read_file(write(tmp_path, "items.jsonl", data)))
    check_entries(entries)
    if encoding == "utf-8":
        # One entry per non-blank line: a bad line is rejected alone, never dropped.
        assert len(entries) >= sum(1 for line in lines if line.strip()) or any(
            isinstance(e, FileRejection) for e in entries
        )


@FUZZ
@given(value=json_values | st.lists(records | plausible, max_size=5))
def test_json_any_value(tmp_path: Path, value: Any) -> None:
    check_entries(list(read_file(write(tmp_path, "items.json", json.dumps(value).encode()))))


@FUZZ
@given(
    title=nasty_text,
    paragraphs=st.lists(nasty_text, max_size=5),
    junk=st.sampled_from(["", "<div", "<!--", "<![CDATA[", "</html></html>", "&#0;&#xD800;"]),
)
def test_html_any_page(tmp_path: Path, title: str, paragraphs: list[str], junk: str) -> None:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    page = f"<html><head><title>{title}</title></head><body>{junk}{body}</body></html>"
    check_entries(list(read_file(write(tmp_path, "page.html", page.encode()))))


# ---------------------------------------------------------------- feeds


def rss(entries: list[tuple[str, str, str]]) -> bytes:
    from xml.sax.saxutils import escape

    items = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        f"<description>{escape(d)}</description></item>"
        for t, link, d in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Fuzz</title><link>https://example.org/</link>{items}</channel></rss>"
    ).encode("utf-8", errors="replace")


xml_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=200
)


@FUZZ
@given(
    entries=st.lists(
        st.tuples(xml_text, st.sampled_from(["https://example.org/x", "", "not a url"]), xml_text),
        max_size=6,
    ),
    cut=st.none() | st.integers(min_value=0, max_value=400),
)
def test_feed_any_entries(entries: list[tuple[str, str, str]], cut: int | None) -> None:
    from services.ingest.feedparse import parse_feed

    data = rss(entries)
    if cut is not None:
        data = data[:cut]
    try:
        parsed = parse_feed(data, url="https://example.org/feed.xml")
    except Rejected as exc:
        assert str(exc).strip()
        return
    for where, reason in parsed.rejected:
        assert where and reason
    if cut is None:
        assert len(parsed.items) + len(parsed.rejected) == len(entries)
    for item in parsed.items:
        check_prepare(item)


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + ']><rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
    "<description>x</description><link>https://e.org/1</link></item></channel></rss>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<rss version="2.0"><channel><title>t</title><item><title>&x;</title>'
    "<description>&x;</description><link>https://e.org/2</link></item></channel></rss>"
)


@pytest.mark.parametrize(
    "data",
    [
        LAUGHS.encode(),
        XXE.encode(),
        LAUGHS.encode("utf-16"),
        XXE.replace("utf-8", "utf-16").encode("utf-16"),
    ],
    ids=["billion-laughs", "xxe", "billion-laughs-utf16", "xxe-utf16"],
)
def test_feed_entity_attacks_refused(data: bytes) -> None:
    from services.ingest.feedparse import parse_feed

    try:
        parsed = parse_feed(data, url="https://example.org/feed.xml")
    except Rejected as exc:
        assert str(exc).strip()
        return
    # Not refused: then nothing may have been expanded or read from disk.
    for item in parsed.items:
        text = json.dumps(item.model_dump())
        assert "lollollol" not in text and "root:" not in text, "entity expanded"
        assert len(text) < 20_000


# ---------------------------------------------------------------- accept (embedded, PostgreSQL)


def stored_ids(url: str) -> set[str]:
    from shared.db import normalize_url

    engine = sa.create_engine(normalize_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(sa.text("SELECT id FROM articles"))}
        dead = conn.execute(sa.text("SELECT count(*) FROM dead_letters")).scalar_one()
    engine.dispose()
    assert dead == 0, "an accepted article ended in the dead letters"
    return ids


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(plausible | records, min_size=1, max_size=5))
@example(batch=[{"title": "", "body": "", "url": "http://[::1"}])
def test_accept_nothing_accepted_lost(embedded_pg: str, batch: list[dict[str, Any]]) -> None:
    from services.ingest.files import record_item
    from services.ingest.pipeline import accept

    items = []
    for n, rec in enumerate(batch):
        try:
            items.append(record_item(rec, f"fuzz[{n}]"))
        except (ValueError, TypeError):
            continue  # refused before ingest, with the error as reason (covered above)
    outcomes = accept(items)
    assert len(outcomes) == len(items)
    stored = stored_ids(embedded_pg)
    for o in outcomes:
        assert o.status in {"queued", "duplicate", "rejected"}, o
        if o.status == "rejected":
            assert o.reason and o.reason.strip()
        elif o.status == "queued":
            assert o.article_id in stored, f"accepted and lost: {o}"
        else:
            assert o.duplicate_of


# ---------------------------------------------------------------- POST /articles


@pytest.fixture
def api_client(embedded_pg: str, env: pytest.MonkeyPatch) -> Any:
    from fastapi.testclient import TestClient

    from services.entrypoints.api import create_app

    env.setenv("NEWSWIRE_API_TOKEN", "fuzz-token-0123456789")
    client = TestClient(create_app(), raise_server_exceptions=False)
    client.headers["Authorization"] = "Bearer fuzz-token-0123456789"
    return client


# What POST /articles may answer with a valid token: results, a body too large, or a body
# that is not an article / list / {"articles": [...]}. Anything else (405 from a router that
# is not mounted, 404, 5xx) is a failure, not "some refusal".
DOCUMENTED_POST_STATUSES = {200, 413, 422}


def check_response(response: Any, n_records: int | None, url: str) -> Counter[str]:
    assert response.status_code in DOCUMENTED_POST_STATUSES, (
        response.status_code,
        response.text[:2000],
    )
    body = response.json()
    if response.status_code != 200:
        text = json.dumps(body)
        assert len(text) > 20, f"a refusal needs a reason: {text}"
        return Counter({f"http_{response.status_code}": 1})
    results = body["results"]
    if n_records is not None:
        assert len(results) == n_records
    stored = stored_ids(url)
    counts: Counter[str] = Counter()
    for r in results:
        counts[r["status"]] += 1
        if r["status"] == "rejected":
            assert r.get("reason"), r
        if r["status"] == "queued":
            assert r["article_id"] in stored, f"accepted and lost: {r}"
    return counts


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.lists(plausible | records, min_size=1, max_size=5) | json_values)
@example(body=[{"title": "t", "body": "", "url": "http://[::1"}])  # found by the accept test
def test_api_post_articles_any_json(api_client: Any, embedded_pg: str, body: Any) -> None:
    response = api_client.post("/articles", content=json.dumps(body))
    n = len(body) if isinstance(body, list) and body else None
    check_response(response, n, embedded_pg)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.binary(max_size=500))
def test_api_post_articles_any_bytes(api_client: Any, embedded_pg: str, raw: bytes) -> None:
    check_response(api_client.post("/articles", content=raw), None, embedded_pg)


# ---------------------------------------------------------------- bounded mutation fuzz


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(5)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = rng.choice([b"\x00", b"\xff\xfe", b"{", b'"', b"\n", b"<", b"\xe2\x80"])
        elif op == 2:
            del buf[pos : pos + rng.randint(1, 50)]
        elif op == 3:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
        else:
            buf = buf[:pos]
    return bytes(buf)


def test_bounded_mutation_fuzz(tmp_path: Path) -> None:
    """Seeds: the bundled samples, an RSS feed and an HTML page, mutated 300 times."""
    from services.ingest.feedparse import parse_feed

    seeds: list[tuple[str, bytes]] = [
        (p.suffix, p.read_bytes()) for p in sorted((ROOT / "samples").iterdir()) if p.is_file()
    ]
    seeds.append((".xml", rss([("Title one", "https://example.org/1", "Body " * 40)] * 2)))
    seeds.append(
        (".html", b"<html><head><title>T</title></head><body><p>" + b"Words " * 80 + b"</p>")
    )
    rng = random.Random(20261125)
    counts: Counter[str] = Counter()
    for i in range(300):
        suffix, seed = rng.choice(seeds)
        data = mutate(rng, seed)
        if suffix == ".xml":
            try:
                parsed = parse_feed(data, url="https://example.org/feed")
            except Rejected as exc:
                assert str(exc).strip()
                counts["feed_rejected"] += 1
                continue
            counts["feed_items"] += len(parsed.items)
            for item in parsed.items:
                counts["prepared" if check_prepare(item) else "rejected"] += 1
            continue
        for entry in read_file(write(tmp_path, f"m{i}{suffix}", data)):
            if isinstance(entry, FileRejection):
                assert entry.reason.strip()
                counts["file_rejected"] += 1
            else:
                counts["prepared" if check_prepare(entry) else "rejected"] += 1
    report(
        "FUZZ mutation iterations=300 crashes=0 "
        + " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    )
    assert counts["prepared"] > 0, "the mutations must leave some inputs valid"
