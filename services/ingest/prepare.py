"""Raw item -> normalized :class:`ArticlePayload` (or a :class:`Rejected` with a reason)."""

from __future__ import annotations

import re
import unicodedata

from services.ingest import extract
from services.ingest.config import keep_short_pages
from services.ingest.dates import FUTURE_SLACK, is_no_date, parse_date
from services.ingest.errors import Rejected
from services.ingest.furniture import is_furniture
from services.ingest.language import detect as detect_language
from services.ingest.sources import resolve_url
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


MIN_WORDS = 4  # any article, from any source ("a 1-word item is not an article")
MIN_PAGE_WORDS = extract.MIN_PAGE_WORDS  # main text of a page: fewer is a caption or a teaser
_DENSE = re.compile(r"[\u0e00-\u0e7f\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def text_units(text: str) -> int:
    """Words, with scripts written without spaces (CJK, Thai) counted at two
    characters a word."""
    tokens = text.split()
    dense = len(_DENSE.findall(text))
    return len(tokens) + dense // 2


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
    data = extract.extract_page(item.html or "", url=item.url)
    if data is None or not data.get("body"):
        raise Rejected("no_main_text", "no main text found in the page")
    if data.get("index_headlines"):
        raise Rejected(
            "not_an_article",
            f"a section or home page ({data['index_headlines']} headlines linking to "
            "articles), not an article: ingest the site's feed or sitemap, or the "
            "articles' own URLs",
        )
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
        if not item.url:
            raise Rejected("bad_url", "a URL item without a URL")
        canonical_url(item.url)  # refuse a bad URL before any network access
        resolved = resolve_url(item)
        if resolved.page is None:
            raise Rejected("not_a_page", f"{item.url} is a {resolved.kind}, not an article page")
        item = resolved.page
    if item.kind == "html":
        item = extract_html(item)
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
    raw_date = None if is_no_date(item.published) else item.published
    published = parse_date(raw_date)
    if raw_date and published is None:
        raise Rejected("bad_date", f"cannot parse date {raw_date[:80]!r}")
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
