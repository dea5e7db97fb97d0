"""Files and directories -> raw items (JSON Lines, JSON, plain-text articles, HTML,
saved feeds, sitemaps).

What an XML file is comes from its root element (RSS, RDF, Atom: its items, as a
polled feed would give them; ``urlset``/``sitemapindex``: URL items fetched at
ingest), whatever its extension, prefix or encoding; a ``.json`` file holding a
JSON Feed gives the feed's items. Inside a directory, every file that is not read
is named with the reason (:class:`FileRejection` with ``skipped``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.ingest.encoding import decode_bytes
from services.ingest.errors import Rejected
from services.ingest.extract import HTML_ENTITY, fragment_to_text
from services.ingest.feedparse import is_json_feed, parse_feed, sniff, xml_root
from services.ingest.sitemaps import parse_sitemap
from services.ingest.textdump import parse_text_article
from shared.schemas import RawItem
from shared.settings import get_settings

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json"}
TEXT_SUFFIXES = {".txt", ".text", ".md"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
XML_SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ".gz"}  # .gz: .xml.gz sitemaps only
SUPPORTED = JSONL_SUFFIXES | JSON_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | XML_SUFFIXES
# For --help and the reasons of refused files: what is read, as it is read.
SUPPORTED_HELP = (
    "JSON Lines (.jsonl, .ndjson), JSON records or a JSON Feed (.json), plain-text "
    "articles (.txt, .text, .md), HTML pages (.html, .htm, .xhtml), RSS/RDF/Atom feeds "
    "and XML sitemaps (.xml, .rss, .atom, .rdf, .xml.gz)"
)


@dataclass
class FileRejection:
    """Something in an input file that cannot become an article, and why.

    ``skipped``: a file found inside a directory and not read (a type that is not
    supported, or hidden); named so that nothing is left out without a word.
    """

    origin: str
    reason: str
    skipped: bool = False


def unsupported(path: Path) -> str | None:
    """Why a file is not read, or None when it is."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        return f"unsupported file type {suffix or '(none)'}"
    if suffix == ".gz" and not path.name.lower().endswith(".xml.gz"):
        return "unsupported file type .gz (only .xml.gz sitemaps)"
    return None


def _not_a_file(path: Path) -> str | None:
    """Why an entry of a directory that is not a regular file is left out, or None for
    a directory the walk reads (the walk neither follows links to directories nor
    enters those it may not read, and says nothing of either)."""
    if path.is_symlink():
        if path.is_dir():
            return "symbolic link to a directory (not followed; name the target to read it)"
        return "broken symbolic link" if not path.exists() else "not a regular file"
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            return "directory not readable (permission denied)"
        return None
    return "not a regular file"


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path | FileRejection]:
    """Files to read, in order; inside directories every file left out is named."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if not child.is_file():
                    why = None if hidden else _not_a_file(child)
                    if why is not None:
                        yield FileRejection(str(child), why, skipped=True)
                    continue
                if hidden:
                    yield FileRejection(str(child), "hidden file", skipped=True)
                    continue
                why = unsupported(child)
                if why is None:
                    yield child
                else:
                    yield FileRejection(str(child), why, skipped=True)
        elif path.is_file():
            yield path
        else:
            yield FileRejection(str(path), "no such file or directory")


def decode(data: bytes, origin: str) -> str:
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
        "publishedAt",
        "datePublished",
        "published_date",
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


_MARKUP = re.compile(
    r"<(?:p|br|div|span|a|b|i|em|strong|li|ul|ol|h[1-6]|blockquote|figure|img|section)\b[^<>]*>"
    r"|</(?:p|div|span|a|b|i|em|strong|li|ul|ol|h[1-6]|blockquote|figure|section)>",
    re.IGNORECASE,
)


_TRUNCATED = re.compile(r"\s*(?:\u2026|\.\.\.)?\s*\[\+\d+ char(?:s|acters)?\]\s*$")
# Where API responses saved as they came keep their articles: NewsAPI "articles",
# the Guardian "response.results", the New York Times "response.docs", ...
_RECORD_LISTS = ("articles", "results", "docs", "items", "data", "news", "stories", "posts")


def json_records(doc: object) -> list[object]:
    """The records of a JSON file: a list, one object, or the list an API response
    wraps them in (an object with no text of its own)."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        own = ("body", "html", "url", *FIELD_ALIASES["body"], *FIELD_ALIASES["url"])
        if not any(isinstance(doc.get(k), str) and doc.get(k) for k in own):
            for holder in (doc, doc.get("response")):
                if not isinstance(holder, dict):
                    continue
                for key in _RECORD_LISTS:
                    value = holder.get(key)
                    if (
                        isinstance(value, list)
                        and value
                        and all(isinstance(v, dict) for v in value)
                    ):
                        return value
    return [doc]


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
    for key in ("body", "title"):
        if isinstance(data.get(key), str) and (
            _MARKUP.search(data[key]) or HTML_ENTITY.search(data[key])
        ):
            # Exports and CMS webhooks often carry the page's HTML ("<p>...</p>",
            # "&#8217;") in their text fields: stored as text, like a feed's content.
            text = fragment_to_text(data[key])
            data[key] = text if key == "body" else " ".join(text.split())
    body = data.get("body")
    if isinstance(body, str) and _TRUNCATED.search(body):
        # A news API's cut text ("... [+2345 chars]"): the page is fetched for the
        # whole article; the cut text rides along in case the page cannot be used.
        data["body"] = _TRUNCATED.sub("", body)
        if data.get("url") and data.get("kind") is None:
            data["kind"] = "url"
    title, source = data.get("title"), data.get("source")
    if isinstance(title, str) and isinstance(source, str) and source.strip():
        for sep in (" - ", " | ", " \u2013 ", " \u2014 "):
            if title.endswith(sep + source.strip()):
                data["title"] = title[: -len(sep + source.strip())]  # "Headline - Site"
                break
    if isinstance(data.get("published"), int | float):  # epoch seconds (or ms)
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
    why = unsupported(path)
    if why is not None:
        yield FileRejection(origin, f"{why}; supported: {SUPPORTED_HELP}")
        return
    try:
        size = path.stat().st_size
        if size > get_settings().max_file_bytes:
            yield FileRejection(origin, f"file too large ({size} bytes)")
            return
        data = path.read_bytes()
    except OSError as exc:
        yield FileRejection(origin, str(exc))
        return
    if suffix in XML_SUFFIXES:
        yield from _xml_items(path, data)
        return
    if suffix in JSON_SUFFIXES and is_json_feed(data):
        yield from _feed_items(origin, data)
        return
    try:
        text = decode(data, origin)
    except ValueError as exc:
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
            doc = json.loads(text)
        except ValueError as exc:
            yield FileRejection(origin, f"invalid JSON: {exc}")
            return
        records = json_records(doc)
        for n, obj in enumerate(records):
            try:
                yield record_item(obj, f"{origin}[{n}]")
            except (ValueError, TypeError) as exc:
                yield FileRejection(f"{origin}[{n}]", f"invalid record: {exc}")
    elif suffix in HTML_SUFFIXES:
        # No source from the folder's name: the page's site (og:site_name, host) is used.
        yield RawItem(kind="html", html=text, origin=origin)
    else:
        try:
            yield parse_text_article(text, origin, markdown=suffix == ".md")
        except ValueError as exc:
            yield FileRejection(origin, str(exc))


def _feed_items(origin: str, data: bytes) -> Iterator[RawItem | FileRejection]:
    try:
        parsed = parse_feed(data, url=origin)
    except Rejected as exc:
        yield FileRejection(origin, str(exc))
        return
    yield from parsed.items
    for where, reason in parsed.rejected:
        yield FileRejection(where, reason)
    if not parsed.items and not parsed.rejected:
        yield FileRejection(origin, "empty_feed: the feed lists no items")


def _xml_items(path: Path, data: bytes) -> Iterator[RawItem | FileRejection]:
    """A saved feed or a sitemap, told apart by the root element, not the extension."""
    origin = str(path)
    kind = "sitemap" if data[:2] == b"\x1f\x8b" else sniff(data)  # .xml.gz: a sitemap
    if kind in {"feed", "jsonfeed"}:
        yield from _feed_items(origin, data)
        return
    if kind != "sitemap":
        root = xml_root(data)
        what = f"root element <{root}>" if root else "no XML root element"
        yield FileRejection(
            origin, f"bad_xml: {what}, not RSS, RDF, Atom or a sitemap (urlset, sitemapindex)"
        )
        return
    try:
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
