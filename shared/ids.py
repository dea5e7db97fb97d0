"""Stable article identifiers and content hashes."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")


def normalize_for_hash(text: str) -> str:
    """Case-folded, NFKC, whitespace-collapsed text: what 'the same content' means."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def content_hash(title: str | None, body: str) -> str:
    h = hashlib.sha256()
    h.update(normalize_for_hash(title or "").encode())
    h.update(b"\x00")
    h.update(normalize_for_hash(body).encode())
    return "sha256:" + h.hexdigest()


def article_id(canonical_url: str | None, title: str | None, body: str) -> str:
    """32 hex chars: from the canonical URL when there is one, else from title and body."""
    if canonical_url:
        key = "url:" + canonical_url
    else:
        key = "text:" + normalize_for_hash(title or "") + "\x00" + normalize_for_hash(body)
    return hashlib.sha256(key.encode()).hexdigest()[:32]
