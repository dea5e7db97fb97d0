"""Normalization: encodings, control characters, NFC, dates to UTC, canonical URLs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingest.encoding import decode_bytes
from services.ingest.extract import decode_html
from services.ingest.prepare import Rejected, canonical_url, clean_text, parse_date

REF = datetime(2023, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, 06 Dec 2023 14:30:00 +0100", "2023-12-06T13:30:00+00:00"),
        ("Wed, 06 Dec 2023 14:30:00 GMT", "2023-12-06T14:30:00+00:00"),
        ("Wed, 06 Dec 2023 09:30:00 EST", "2023-12-06T14:30:00+00:00"),
        ("2023-12-06T14:30:00Z", "2023-12-06T14:30:00+00:00"),
        ("2023-12-06T14:30:00.123+05:30", "2023-12-06T09:00:00.123000+00:00"),
        ("2023-12-06", "2023-12-06T00:00:00+00:00"),
        ("20231206T143000Z", "2023-12-06T14:30:00+00:00"),
        ("Wednesday, December 6, 2023", "2023-12-06T00:00:00+00:00"),
        ("6 December 2023, 10:15 CET", "2023-12-06T09:15:00+00:00"),
        ("Dec. 6, 2023 3:05 p.m.", "2023-12-06T15:05:00+00:00"),
        ("3 hours ago", "2023-12-06T09:00:00+00:00"),
        ("yesterday", "2023-12-05T12:00:00+00:00"),
        ("2 days ago", "2023-12-04T12:00:00+00:00"),
    ],
)
def test_dates_to_utc(text: str, expected: str) -> None:
    dt = parse_date(text, relative_to=REF)
    assert dt is not None and dt.isoformat() == expected


@pytest.mark.parametrize("text", ["", "   ", "not a date", "5", "Breaking news", "1789-07-14"])
def test_not_dates(text: str) -> None:
    assert parse_date(text, relative_to=REF) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Example.COM/a/b?utm_source=x&utm_medium=y#frag", "https://example.com/a/b"),
        ("https://example.com/a/?b=2&a=1&fbclid=z&gclid=q", "https://example.com/a?a=1&b=2"),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://news.example.com/x?id=5&mc_cid=1", "https://news.example.com/x?id=5"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x.example/y", "/relative/path"])
def test_canonical_url_refuses(url: str) -> None:
    with pytest.raises(Rejected) as err:
        canonical_url(url)
    assert err.value.reason == "bad_url"


def test_clean_text_keeps_paragraphs_and_drops_controls() -> None:
    raw = "Cafe\u0301 opens\x00\r\n  again\x07 today.\r\n\r\n\r\nSecond\u00a0\u00a0para\x1b."
    assert clean_text(raw) == "Caf\u00e9 opens again today.\n\nSecond para."


def test_decode_bytes() -> None:
    assert decode_bytes("na\u00efve caf\u00e9".encode()) == "na\u00efve caf\u00e9"
    assert decode_bytes(b"\xef\xbb\xbfbom") == "bom"
    text = "Le caf\u00e9 \u00e9tait ferm\u00e9 \u2013 \u00ab un petit miracle \u00bb, dit-il. " * 5
    assert decode_bytes(text.encode("cp1252")) == text
    with pytest.raises(ValueError, match="cannot determine the text encoding"):
        decode_bytes(bytes(range(256)) * 4, "junk.bin")


def test_decode_html_prefers_declared_charset() -> None:
    page = '<meta charset="windows-1252"><p>\u201cquoted\u201d \u20ac5</p>'
    assert decode_html(page.encode("cp1252")) == page
    assert decode_html(page.encode("cp1252"), "iso-8859-1") == page  # WHATWG: Latin-1 = 1252
    assert decode_html(page.encode("utf-8"), "utf-8") == page
