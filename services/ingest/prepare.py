"""Raw item -> normalized :class:`ArticlePayload` (or a :class:`Rejected` with a reason)."""

from __future__ import annotations

import email.utils
import re
import unicodedata
import warnings
from datetime import UTC, datetime, timedelta

from dateutil import parser as dateutil_parser

from services.ingest.config import keep_short_pages
from services.ingest.errors import Rejected
from services.ingest.language import detect as detect_language
from services.ingest.urls import canonical_url, host_of, page_address
from shared.ids import article_id, content_hash
from shared.schemas import ArticlePayload, RawItem, new_trace_id, utcnow
from shared.settings import get_settings

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_PARA_SPLIT = re.compile(r"\n\s*\n")


def clean_text(text: str) -> str:
    """NFC, control characters and NULs removed, paragraphs kept, spaces collapsed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    paragraphs = []
    for para in _PARA_SPLIT.split(text):
        lines = [_SPACES.sub(" ", ln).strip() for ln in para.split("\n")]
        joined = " ".join(ln for ln in lines if ln)
        if joined:
            paragraphs.append(joined)
    return "\n\n".join(paragraphs)


def clean_line(text: str | None) -> str | None:
    if text is None:
        return None
    out = " ".join(_CONTROL.sub("", unicodedata.normalize("NFC", text)).split())
    return out or None


_TZINFOS = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5 * 3600,
    "EDT": -4 * 3600,
    "CST": -6 * 3600,
    "CDT": -5 * 3600,
    "MST": -7 * 3600,
    "MDT": -6 * 3600,
    "PST": -8 * 3600,
    "PDT": -7 * 3600,
    "BST": 3600,
    "IST": 19800,
    "CET": 3600,
    "CEST": 7200,
    "EET": 7200,
    "EEST": 3 * 3600,
    "MSK": 3 * 3600,
    "JST": 9 * 3600,
    "AEST": 10 * 3600,
    "AEDT": 11 * 3600,
}
_MONTHS = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\b", re.IGNORECASE
)
_HAS_YEAR = re.compile(r"\b(19|20)\d\d\b")
_NUMERIC_DATE = re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b")
MIN_YEAR = 1990
FUTURE_SLACK = timedelta(days=2)
MIN_WORDS = 4  # any article, from any source ("a 1-word item is not an article")
MIN_PAGE_WORDS = 40  # main text of a page: fewer is a caption or a teaser
_DENSE = re.compile(r"[\u0e00-\u0e7f\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def text_units(text: str) -> int:
    """Words, with scripts written without spaces (CJK, Thai) counted at two
    characters a word."""
    tokens = text.split()
    dense = len(_DENSE.findall(text))
    return len(tokens) + dense // 2


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def parse_date(value: str | None, relative_to: datetime | None = None) -> datetime | None:
    """Any common date format to UTC; None when it is not a date.

    RFC 822 (feeds, HTTP), ISO 8601, dates in words (``Wednesday, December 6, 2023``),
    numeric dates, and relative dates (``3 hours ago``, ``yesterday``) counted from
    ``relative_to`` (the feed's or the fetch's time; now when not given). A date
    without a zone is taken as UTC.
    """
    if not value or not value.strip():
        return None
    text = " ".join(value.strip().split())[:200]
    dt: datetime | None = None
    try:
        dt = email.utils.parsedate_to_datetime(text)
        if dt.tzinfo is None and not text.endswith("-0000"):
            dt = None  # a zone RFC 822 does not know (CET, ...): let dateutil read it
    except (TypeError, ValueError, IndexError):
        dt = None
    if dt is None:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            dt = None
    datelike = _HAS_YEAR.search(text) or _MONTHS.search(text) or _NUMERIC_DATE.search(text)
    if dt is None and datelike:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dt = dateutil_parser.parse(text, fuzzy=False, tzinfos=_TZINFOS)
        except (ValueError, OverflowError, TypeError):
            dt = None
    if dt is None and re.search(r"[^\W\d_]", text):
        dt = _dateparser(text, relative_to)
    if dt is None:
        return None
    dt = _utc(dt)
    if dt.year < MIN_YEAR:
        return None
    return dt


def _dateparser(text: str, relative_to: datetime | None) -> datetime | None:
    import dateparser

    base = _utc(relative_to or utcnow()).replace(tzinfo=None)
    settings = {
        "RELATIVE_BASE": base,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PREFER_DATES_FROM": "past",
    }
    # English first (cheap), then every language dateparser knows ("hace 3 horas").
    for languages in (["en"], None):
        try:
            dt = dateparser.parse(text, languages=languages, settings=settings)
        except (ValueError, OverflowError, TypeError, AttributeError):
            dt = None
        if dt is not None:
            return dt
    return None


def _trusted_canonical(declared: str | None, fetched: str | None) -> str | None:
    """A page's ``rel=canonical`` only on its own host: another site's URL would let a
    page claim (and shadow, through dedup) an article it is not."""
    if not declared:
        return fetched
    if fetched and host_of(declared) != host_of(fetched):
        return fetched
    return declared


def extract_html(item: RawItem) -> RawItem:
    """Main text and metadata of an HTML page (trafilatura); the item's own fields win."""
    from services.ingest.extract import extract_page

    data = extract_page(item.html or "", url=item.url)
    if data is None or not data.get("body"):
        raise Rejected("no_main_text", "no main text found in the page")
    words = text_units(data["body"])
    if words < MIN_PAGE_WORDS and not keep_short_pages():
        raise Rejected(
            "no_main_text",
            f"only {words} words of main text (a caption or a teaser, not an article; "
            "--keep-short or NEWSWIRE_INGEST_KEEP_SHORT=1 keeps such pages)",
        )
    return item.model_copy(
        update={
            "kind": "record",
            "html": None,
            "title": item.title or data.get("title"),
            "body": data["body"],
            # The page's own metadata beats a sitemap's lastmod or a feed's date; the
            # item's date beats trafilatura's day-only guess.
            "published": data.get("published_meta") or item.published or data.get("published"),
            "url": _trusted_canonical(data.get("url"), item.url),
            "authors": item.authors or data.get("authors") or [],
            # The page's <html lang> is a hint only: detected from the text in prepare().
            "language": item.language or data.get("language"),
            "source": item.source or data.get("source"),
        }
    )


def prepare(item: RawItem) -> ArticlePayload:
    """Normalize one raw item into the ingest -> enrich payload."""
    if item.kind == "url":
        from services.ingest.sources import resolve_url

        if not item.url:
            raise Rejected("bad_url", "a URL item without a URL")
        canonical_url(item.url)  # refuse a bad URL before any network access
        resolved = resolve_url(item)
        if resolved.page is None:
            raise Rejected("not_a_page", f"{item.url} is a {resolved.kind}, not an article page")
        item = resolved.page
    if item.kind == "html":
        item = extract_html(item)
    from services.ingest.furniture import is_furniture

    raw_body = "\n".join(ln for ln in (item.body or "").split("\n") if not is_furniture(ln))
    body = clean_text(raw_body)
    if not body:
        raise Rejected("empty_body", "the article has no text")
    words = text_units(body)
    if words < MIN_WORDS:
        # One rule for every source (files, feeds, pages, the API).
        raise Rejected(
            "too_short", f"{words} word{'s' if words != 1 else ''}; an article needs {MIN_WORDS}"
        )
    limit = get_settings().max_body_chars
    if len(body) > limit:
        body = body[:limit]
    title = clean_line(item.title)
    # The canonical form is the dedup key (and makes the id); the address as given
    # (the page's own, or the record's) is what is kept as ``url``.
    key = canonical_url(item.url)
    url = page_address(clean_line(item.url)) if key else None
    published = parse_date(item.published)
    if item.published and published is None:
        raise Rejected("bad_date", f"cannot parse date {item.published[:80]!r}")
    if published is not None and published > utcnow() + FUTURE_SLACK:
        raise Rejected("bad_date", f"date in the future: {published.isoformat()}")
    # From the text (the body is decoded by now); a declared language is a hint only.
    language = detect_language(f"{title or ''}\n{body}", item.language)
    return ArticlePayload(
        id=article_id(key, title, body),
        url=url,
        source=clean_line(item.source) or host_of(key) or None,
        title=title,
        published_at=published,
        ingested_at=utcnow(),
        language=language,
        authors=[a for a in (clean_line(x) for x in item.authors) if a],
        body=body,
        content_hash=content_hash(title, body),
        trace_id=item.trace_id or new_trace_id(),
        source_country=(item.source_country or get_settings().source_country),
    )
