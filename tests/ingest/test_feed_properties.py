"""Property: any RSS 2.0, Atom or JSON Feed built from random items, in any encoding
its specification allows, yields those items (titles and text), in order.

XML feeds are written in UTF-8 (with or without BOM and declaration), UTF-16 (BOM,
either byte order) or a legacy encoding named in the declaration, characters it
cannot hold written as character references; RSS descriptions are HTML (the text
escaped once more, as RSS 2.0 has it), Atom content is type="text"; JSON Feed is
UTF-8 (RFC 8259). Only characters XML 1.0 allows, C0/C1 controls left out (they are
stripped on purpose later), and no text that reads as double-encoded UTF-8 (which
feedparser repairs on purpose).
"""

from __future__ import annotations

import json
import unicodedata
from html import escape

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.ingest.feedparse import parse_feed
from services.ingest.furniture import is_furniture

CHARS = st.characters(
    blacklist_categories=("Cs", "Cc", "Co", "Cn"),
    blacklist_characters="\ufffe\uffff\u2028\u2029\x85",
)


def _double_encoded(text: str) -> bool:
    """UTF-8 read as Latin-1 ("Â¡" for "¡"): feedparser repairs such text on purpose."""
    try:
        return text.encode("latin-1").decode("utf-8") != text
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False


TEXT = st.text(CHARS, min_size=1, max_size=80).filter(
    lambda t: any(c.isalnum() for c in t) and not is_furniture(t) and not _double_encoded(t)
)
ITEMS = st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=5)
XML_ENCODINGS = [
    ("utf-8", "utf-8", True),
    ("utf-8", None, False),  # no declaration: UTF-8 by default
    ("utf-8-sig", "utf-8", True),  # with a BOM
    ("utf-16", "utf-16", True),  # BOM, native order
    ("utf-16-be-bom", "utf-16", True),
    ("iso-8859-1", "iso-8859-1", True),
    ("windows-1252", "windows-1252", True),
    ("koi8-r", "koi8-r", True),
    ("shift_jis", "shift_jis", True),
    ("euc-kr", "euc-kr", True),
]


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _encode(doc: str, codec: str) -> bytes:
    if codec == "utf-16-be-bom":
        return b"\xfe\xff" + doc.encode("utf-16-be")
    if codec in {"utf-8", "utf-8-sig", "utf-16"}:
        return doc.encode(codec)
    # A character the encoding cannot hold (or holds ambiguously: "¥" is 0x5C in
    # Python's Shift_JIS, read back as a backslash) goes as a character reference.
    safe = "".join(
        c if c.encode(codec, "ignore").decode(codec, "ignore") == c else f"&#{ord(c)};" for c in doc
    )
    return safe.encode(codec)


def _xml(body: str, label: str | None) -> str:
    decl = f'<?xml version="1.0" encoding="{label}"?>\n' if label else ""
    return decl + body


def rss(items: list[tuple[str, str]], label: str | None) -> str:
    entries = "".join(
        f"<item><title>{escape(t)}</title><guid isPermaLink='false'>g{n}</guid>"
        f"<description>{escape(escape(b))}</description></item>"
        for n, (t, b) in enumerate(items)
    )
    return _xml(f'<rss version="2.0"><channel><title>P</title>{entries}</channel></rss>', label)


def atom(items: list[tuple[str, str]], label: str | None) -> str:
    entries = "".join(
        f"<entry><title type='text'>{escape(t)}</title><id>urn:p:{n}</id>"
        f"<updated>2023-12-06T09:00:00Z</updated>"
        f"<content type='text'>{escape(b)}</content></entry>"
        for n, (t, b) in enumerate(items)
    )
    return _xml(
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>P</title><id>urn:p</id>'
        f"<updated>2023-12-06T09:00:00Z</updated>{entries}</feed>",
        label,
    )


def _check(data: bytes, items: list[tuple[str, str]]) -> None:
    parsed = parse_feed(data, url="prop")
    assert parsed.rejected == []
    got = [(_norm(i.title), _norm(i.body)) for i in parsed.items]
    assert got == [(_norm(t), _norm(b)) for t, b in items]


@pytest.mark.parametrize(("codec", "label", "_declared"), XML_ENCODINGS)
@pytest.mark.parametrize("build", [rss, atom])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(items=ITEMS)
def test_xml_feeds_yield_their_items(
    build: object, codec: str, label: str | None, _declared: bool, items: list[tuple[str, str]]
) -> None:
    if label is None:
        assume(all(t.strip() and b.strip() for t, b in items))
    doc = build(items, label)  # type: ignore[operator]
    data = _encode(doc, codec)
    if not codec.startswith("utf"):
        # Single-byte text whose bytes also read as multi-byte UTF-8 ("\xc2\xa9") is taken
        # as UTF-8 behind a lying Latin label on purpose (encoding.decode_bytes): ambiguous.
        try:
            data.decode("utf-8")
            ambiguous = any(b > 127 for b in data)
        except UnicodeDecodeError:
            ambiguous = False
        assume(not ambiguous)
    _check(data, items)


@settings(max_examples=80, deadline=None)
@given(items=ITEMS, html=st.booleans())
def test_json_feeds_yield_their_items(items: list[tuple[str, str]], html: bool) -> None:
    key = "content_html" if html else "content_text"
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "P",
        "items": [
            {"id": str(n), "title": t, key: escape(b) if html else b}
            for n, (t, b) in enumerate(items)
        ],
    }
    _check(json.dumps(doc, ensure_ascii=bool(len(items) % 2)).encode("utf-8"), items)
