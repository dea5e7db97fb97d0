"""URLs: the canonical form used as the dedup key, hosts (a leaf module)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from services.ingest.errors import Rejected

TRACKING_PREFIXES = ("utm_", "mc_", "pk_")
TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "igshid", "ref", "ref_src", "cmpid"}


def canonical_url(url: str | None) -> str | None:
    """Scheme and host lower-cased, ``www.`` and fragments and tracking parameters dropped."""
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError as exc:  # "http://[::1", "http://host:99999"
        raise Rejected("bad_url", f"malformed URL {url[:200]!r}: {exc}") from exc
    if parts.scheme.lower() not in {"http", "https"} or not host:
        raise Rejected("bad_url", f"not an http(s) URL: {url[:200]}")
    if host.startswith("www."):
        host = host[4:]
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PREFIXES) and k.lower() not in TRACKING_PARAMS
    ]
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"  # /story/ and /story are one page on news sites
    return urlunsplit(("https", netloc, path, urlencode(sorted(query)), ""))


def host_of(url: str | None) -> str:
    """Lower-cased host without ``www.``; empty for a missing or malformed URL."""
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".") if url else ""
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def dedup_key(url: str | None) -> str | None:
    """The canonical form of a stored URL (idempotent: a canonical URL maps to itself)."""
    if not url:
        return None
    try:
        return canonical_url(url)
    except Rejected:
        return url


def page_address(url: str | None) -> str | None:
    """The address as given, less what identifies the click rather than the page: the
    ``#fragment`` and tracking parameters. Scheme, ``www.``, port, path and trailing
    slash stay as the site wrote them (the canonical form is only the dedup key)."""
    if not url or not url.strip():
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [
        (k, v)
        for k, v in pairs
        if not k.lower().startswith(TRACKING_PREFIXES) and k.lower() not in TRACKING_PARAMS
    ]
    query = parts.query if len(kept) == len(pairs) else urlencode(kept)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
