"""XML sitemaps (plain or gzipped, sitemap indexes, Google News extension) -> URL items.

Parsed with defusedxml with DTDs refused; gzip is inflated with a cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

from services.ingest.config import fetch_settings
from services.ingest.errors import Rejected
from services.ingest.fetch import gunzip_capped
from shared.schemas import RawItem


@dataclass
class Sitemap:
    items: list[RawItem] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)  # children of a sitemap index


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(el: object, *path: str) -> str | None:
    node = el
    for name in path:
        node = next((c for c in node if _local(c.tag) == name), None)  # type: ignore[attr-defined]
        if node is None:
            return None
    text = (node.text or "").strip()  # type: ignore[attr-defined]
    return text or None


def parse_sitemap(data: bytes, origin: str = "sitemap", source: str | None = None) -> Sitemap:
    """``<loc>`` with ``<lastmod>`` or ``news:publication_date`` of every URL."""
    # Deferred on purpose: defusedxml (14 ms) only when a sitemap is parsed.
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    cfg = fetch_settings()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gunzip_capped(data, cfg.max_decompressed)
        except Exception as exc:  # FetchError: too large / corrupt
            raise Rejected("bad_sitemap", str(exc)) from exc
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise Rejected("unsafe_xml", f"DTDs and entities are refused in sitemaps ({exc})") from exc
    except ParseError as exc:
        raise Rejected("bad_sitemap", f"not well-formed XML: {exc}") from exc
    out = Sitemap()
    kind = _local(root.tag)
    if kind == "sitemapindex":
        for sm in root:
            loc = _child_text(sm, "loc")
            if loc:
                out.sitemaps.append(loc)
        return out
    if kind != "urlset":
        raise Rejected("bad_sitemap", f"root element is <{kind}>, not <urlset> or <sitemapindex>")
    for n, url in enumerate(root):
        if _local(url.tag) != "url":
            continue
        loc = _child_text(url, "loc")
        if not loc:
            continue
        if len(out.items) >= cfg.max_sitemap_urls:
            break
        published = _child_text(url, "news", "publication_date") or _child_text(url, "lastmod")
        title = _child_text(url, "news", "title")
        out.items.append(
            RawItem(
                kind="url",
                url=loc,
                published=published,
                title=title,
                source=source,
                origin=f"{origin}#{n}",
            )
        )
    return out
