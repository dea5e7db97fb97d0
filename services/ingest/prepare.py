"""Raw item -> normalized :class:`ArticlePayload` (or a :class:`Rejected` with a reason)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from charset_normalizer import from_bytes
from dateutil import parser as dateparser

from shared.ids import article_id, content_hash
from shared.schemas import ArticlePayload, RawItem, new_trace_id, utcnow
from shared.settings import get_settings


class Rejected(ValueError):
    """An item that cannot become an article; ``reason`` is for operators."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_PARA_SPLIT = re.compile(r"\n\s*\n")
TRACKING_PREFIXES = ("utm_", "mc_", "pk_")
TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "igshid", "ref", "ref_src", "cmpid"}


def decode_bytes(data: bytes, origin: str = "input") -> str:
    """UTF-8 (with or without BOM) first, else detect; a clear error when undecidable."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise ValueError(f"{origin}: cannot determine the text encoding")
    return str(best)


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


def parse_date(value: str | None) -> datetime | None:
    """Any common date format to UTC; None when it is not a date."""
    if not value or not value.strip():
        return None
    try:
        dt = dateparser.parse(value.strip(), fuzzy=False)
    except (ValueError, OverflowError, TypeError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def canonical_url(url: str | None) -> str | None:
    """Scheme and host lower-cased, ``www.`` and fragments and tracking parameters dropped."""
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise Rejected("bad_url", f"not an http(s) URL: {url[:200]}")
    host = parts.hostname.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PREFIXES) and k.lower() not in TRACKING_PARAMS
    ]
    path = parts.path or "/"
    return urlunsplit(("https", netloc, path, urlencode(sorted(query)), ""))


def extract_html(item: RawItem) -> RawItem:
    """Main text and metadata of an HTML page (trafilatura)."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        item.html or "", url=item.url, with_metadata=True, include_comments=False
    )
    if doc is None:
        raise Rejected("no_content", "no main text found in the page")
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    authors = data.get("author")
    return item.model_copy(
        update={
            "kind": "record",
            "title": item.title or data.get("title"),
            "body": data.get("text") or "",
            "published": item.published or data.get("date"),
            "url": item.url or data.get("url"),
            "authors": item.authors or ([a.strip() for a in authors.split(";")] if authors else []),
            "language": item.language or data.get("language"),
            "source": item.source or data.get("sitename") or data.get("hostname"),
        }
    )


def prepare(item: RawItem) -> ArticlePayload:
    """Normalize one raw item into the ingest -> enrich payload."""
    if item.kind == "html":
        item = extract_html(item)
    elif item.kind == "url":
        raise Rejected("unsupported", "fetching URLs is not available in this build")
    body = clean_text(item.body or "")
    if not body:
        raise Rejected("empty_body", "the article has no text")
    limit = get_settings().max_body_chars
    if len(body) > limit:
        body = body[:limit]
    title = clean_line(item.title)
    url = canonical_url(item.url)
    published = parse_date(item.published)
    if item.published and published is None:
        raise Rejected("bad_date", f"cannot parse date {item.published[:80]!r}")
    return ArticlePayload(
        id=article_id(url, title, body),
        url=url,
        source=clean_line(item.source) or (urlsplit(url).hostname if url else None),
        title=title,
        published_at=published,
        ingested_at=utcnow(),
        language=(item.language or None),
        authors=[a for a in (clean_line(x) for x in item.authors) if a],
        body=body,
        content_hash=content_hash(title, body),
        trace_id=item.trace_id or new_trace_id(),
        source_country=(item.source_country or get_settings().source_country),
    )
