"""Files and directories -> raw items (JSON Lines, JSON, plain-text articles, HTML, sitemaps).

Sitemaps (``.xml``, ``.xml.gz``) become URL items: the pages are fetched at ingest.
Saved RSS/Atom files (``.xml``) give their items, as a polled feed would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.schemas import RawItem
from shared.settings import get_settings

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json"}
TEXT_SUFFIXES = {".txt", ".text", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
SITEMAP_SUFFIXES = {".xml", ".gz"}
SUPPORTED = JSONL_SUFFIXES | JSON_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | SITEMAP_SUFFIXES


@dataclass
class FileRejection:
    """Something in an input file that cannot become an article, and why."""

    origin: str
    reason: str


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path | FileRejection]:
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED:
                    yield child
        elif path.is_file():
            yield path
        else:
            yield FileRejection(str(path), "no such file or directory")


def decode(data: bytes, origin: str) -> str:
    from services.ingest.prepare import decode_bytes

    return decode_bytes(data, origin)


# Field names seen in real exports (news APIs, scrapers, datasets) -> ours.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "body": (
        "text",
        "content",
        "maintext",
        "article",
        "article_text",
        "body_text",
        "story",
        "full_text",
        "fulltext",
    ),
    "title": ("headline", "heading", "name"),
    "url": ("link", "uri", "canonical_url", "article_url", "web_url"),
    "published": (
        "published_at",
        "date",
        "pubDate",
        "pub_date",
        "publish_date",
        "publication_date",
        "date_publish",
        "datetime",
        "timestamp",
        "created_at",
    ),
    "authors": ("author", "byline", "creator", "creators"),
    "source": ("source_name", "site", "sitename", "publisher", "domain", "outlet"),
    "language": ("lang", "language_code"),
}


def record_item(obj: object, origin: str) -> RawItem:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    data = dict(obj)
    for field, aliases in FIELD_ALIASES.items():
        if data.get(field) in (None, "", []):
            for alias in aliases:
                if data.get(alias) not in (None, "", []):
                    data[field] = data[alias]
                    break
    if isinstance(data.get("source"), dict):  # e.g. {"id": ..., "name": ...}
        data["source"] = data["source"].get("name") or data["source"].get("id")
    authors = data.get("authors")
    if isinstance(authors, str):
        data["authors"] = [a.strip() for a in authors.replace(" and ", ",").split(",") if a.strip()]
    elif isinstance(authors, list):
        data["authors"] = [
            str(a.get("name", "")) if isinstance(a, dict) else str(a) for a in authors if a
        ]
    elif authors is not None:
        data["authors"] = []
    if isinstance(data.get("published"), int | float):  # epoch seconds (or ms)
        from datetime import UTC, datetime

        ts = float(data["published"])
        data["published"] = datetime.fromtimestamp(ts / 1000 if ts > 1e11 else ts, UTC).isoformat()
    data["origin"] = origin
    if data.get("kind") not in {"record", "html", "url"}:
        if data.get("html") and not data.get("body"):
            data["kind"] = "html"
        elif not data.get("body") and data.get("url"):
            data["kind"] = "url"  # only a link: fetched and extracted at ingest
        else:
            data["kind"] = "record"
    for key in ("published", "title", "url", "source", "language"):
        if data.get(key) is not None and not isinstance(data[key], str):
            data[key] = str(data[key])
    return RawItem.model_validate(data)


def read_file(path: Path) -> Iterator[RawItem | FileRejection]:
    """Items of one file; a bad line is rejected alone, a bad file as a whole."""
    origin = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        yield FileRejection(origin, f"unsupported file type {suffix or '(none)'}")
        return
    try:
        size = path.stat().st_size
        if size > get_settings().max_file_bytes:
            yield FileRejection(origin, f"file too large ({size} bytes)")
            return
        data = path.read_bytes()
        if suffix in SITEMAP_SUFFIXES:
            yield from _sitemap_items(path, data)
            return
        text = decode(data, origin)
    except (OSError, ValueError) as exc:
        yield FileRejection(origin, str(exc))
        return
    if suffix in JSONL_SUFFIXES:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{origin}:{n}"
            try:
                yield record_item(json.loads(line), where)
            except (ValueError, TypeError) as exc:
                yield FileRejection(where, f"invalid JSON Lines record: {exc}")
    elif suffix in JSON_SUFFIXES:
        try:
            data = json.loads(text)
        except ValueError as exc:
            yield FileRejection(origin, f"invalid JSON: {exc}")
            return
        records = data if isinstance(data, list) else [data]
        for n, obj in enumerate(records):
            try:
                yield record_item(obj, f"{origin}[{n}]")
            except (ValueError, TypeError) as exc:
                yield FileRejection(f"{origin}[{n}]", f"invalid record: {exc}")
    elif suffix in HTML_SUFFIXES:
        yield RawItem(kind="html", html=text, origin=origin, source=path.parent.name or None)
    else:
        from services.ingest.textdump import parse_text_article

        try:
            yield parse_text_article(text, origin)
        except ValueError as exc:
            yield FileRejection(origin, str(exc))


def _sitemap_items(path: Path, data: bytes) -> Iterator[RawItem | FileRejection]:
    from services.ingest.prepare import Rejected
    from services.ingest.sitemaps import parse_sitemap

    origin = str(path)
    if path.suffix.lower() == ".gz" and not path.name.lower().endswith(".xml.gz"):
        yield FileRejection(origin, "unsupported file type .gz (only .xml.gz sitemaps)")
        return
    from services.ingest.feeds import parse_feed, sniff

    try:
        if sniff(data) == "feed":  # a saved RSS/Atom file: its items, as when polled
            parsed = parse_feed(data, url=origin)
            yield from parsed.items
            for where, reason in parsed.rejected:
                yield FileRejection(where, reason)
            return
        sitemap = parse_sitemap(data, origin=origin)
    except Rejected as exc:
        yield FileRejection(origin, str(exc))
        return
    yield from sitemap.items
    for child in sitemap.sitemaps:
        # A sitemap index: each child sitemap is fetched and expanded at ingest.
        yield RawItem(kind="url", url=child, origin=f"{origin}:{child}")


def iter_items(paths: Iterable[str | Path]) -> Iterator[RawItem | FileRejection]:
    for entry in iter_files(paths):
        if isinstance(entry, FileRejection):
            yield entry
        else:
            yield from read_file(entry)
