"""URL items: fetch, then decide what came back (a page, a feed or a sitemap).

A page becomes one HTML item for extraction; a feed or a sitemap resolves into the
items it lists, which the caller (:mod:`services.ingest.pipeline`, the one module that
dispatches) sends on. Nothing here submits or dispatches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.ingest.errors import Rejected
from services.ingest.extract import decode_html
from services.ingest.feedparse import parse_feed, sniff, xml_root
from services.ingest.fetch import FetchError, fetch
from services.ingest.sitemaps import parse_sitemap
from shared.logging import get_logger
from shared.schemas import RawItem

log = get_logger(__name__)

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
MAX_SITEMAP_DEPTH = 3


@dataclass
class Resolved:
    kind: str  # page | feed | sitemap
    page: RawItem | None = None
    children: list[RawItem] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def resolve_url(item: RawItem, depth: int = 0, _seen: set[str] | None = None) -> Resolved:
    """Fetch a URL item; raises :class:`Rejected` with the fetch's reason on failure.

    ``_seen``: the sitemaps already read for this one (an index listing itself, or a
    sitemap twice, is read once)."""
    assert item.url
    try:
        resp = fetch(item.url, accept=PAGE_ACCEPT)
    except FetchError as exc:
        raise Rejected(exc.reason, exc.detail) from exc
    kind = sniff(resp.content, resp.content_type)
    if kind in {"feed", "jsonfeed"} and resp.content_type not in {"text/html"}:
        parsed = parse_feed(
            resp.content, url=resp.url, content_type=resp.content_type, charset=resp.charset
        )
        children = parsed.items
        for child in children:
            child.source = child.source or item.source
            child.source_country = child.source_country or item.source_country
        return Resolved("feed", children=children, rejected=parsed.rejected)
    if kind == "sitemap":
        sm = parse_sitemap(resp.content, origin=resp.url, source=item.source)
        out = Resolved("sitemap", children=sm.items)
        seen = _seen if _seen is not None else set()
        seen.update({item.url, resp.url})
        for child_url in sm.sitemaps:
            if child_url in seen:
                log.info("sitemap_already_read", url=child_url, index=resp.url)
                continue
            seen.add(child_url)
            if depth >= MAX_SITEMAP_DEPTH:
                out.rejected.append(
                    (
                        child_url,
                        f"sitemap_too_deep: sitemap indexes nested over {MAX_SITEMAP_DEPTH} deep",
                    )
                )
                continue
            try:
                sub = resolve_url(
                    RawItem(kind="url", url=child_url, source=item.source), depth + 1, seen
                )
            except Rejected as exc:
                out.rejected.append((child_url, str(exc)))
                continue
            out.children.extend(sub.children)
            out.rejected.extend(sub.rejected)
        return out
    if kind == "xml":
        raise Rejected(
            "not_a_page",
            f"{resp.url} is an XML document (<{xml_root(resp.content)}>), not a page, feed "
            "or sitemap",
        )
    try:
        html = decode_html(resp.content, resp.charset, origin=resp.url)
    except ValueError as exc:
        raise Rejected("bad_encoding", str(exc)) from exc
    page = item.model_copy(update={"kind": "html", "html": html, "url": resp.url})
    return Resolved("page", page=page)
