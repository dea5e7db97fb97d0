"""Duplicate detection shared by every ingest process (through the database).

Cascade, cheapest first:

1. same article id (derived from the canonical URL: ``utm_*``, ``www.``, fragments and
   scheme do not make a new story), or a record whose canonical URL is this one;
2. same content hash (normalized title + body);
3. near duplicate: MinHash over word 4-gram shingles of the body, indexed by LSH
   bands in ``near_dup_bands`` (32 bands x 4 rows: candidates from about 0.4 Jaccard),
   then verified by the similarity estimated from the two signatures against
   ``NEWSWIRE_NEAR_DUP_THRESHOLD`` (0.6 by default). Syndicated wire copies with
   small edits land here and are recorded as duplicates of the first copy.

The database is the shared state on purpose: embedded mode has no Redis, and the
first copy must win across workers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.ingest.config import dedup_settings
from services.ingest.urls import dedup_key
from shared.ids import article_id, normalize_for_hash
from shared.models import DUPLICATE, RECEIVED, IngestRecord, NearDupBand
from shared.schemas import ArticlePayload

NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
SHINGLE = 4
MAX_CANDIDATES = 50
_MERSENNE = np.uint64((1 << 61) - 1)
_rng = np.random.RandomState(20231206)
_A = _rng.randint(1, (1 << 61) - 1, NUM_PERM, dtype=np.int64).astype(np.uint64)
_B = _rng.randint(0, (1 << 61) - 1, NUM_PERM, dtype=np.int64).astype(np.uint64)
_WORD = re.compile(r"\w+")


@dataclass
class Match:
    duplicate_of: str
    similarity: float
    rule: str  # "url" | "content_hash" | "near_duplicate"


def words(text: str) -> list[str]:
    return _WORD.findall(normalize_for_hash(text))


def shingles(tokens: list[str], k: int = SHINGLE) -> set[int]:
    if len(tokens) < k:
        grams = [" ".join(tokens)] if tokens else []
    else:
        grams = [" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1)]
    return {
        int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") for g in grams
    }


def signature(text: str) -> np.ndarray | None:
    """128 MinHash values (uint32) of the body's shingles; None for empty text."""
    hashes = shingles(words(text))
    return _minhash(hashes) if hashes else None


def _minhash(hashes: set[int]) -> np.ndarray:
    hv = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
    with np.errstate(over="ignore"):
        permuted = (np.outer(hv, _A) + _B) % _MERSENNE
    return (permuted.min(axis=0) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.count_nonzero(a == b)) / float(len(a))


def band_keys(sig: np.ndarray) -> list[str]:
    keys = []
    for i in range(BANDS):
        band = sig[i * ROWS : (i + 1) * ROWS].tobytes()
        keys.append(f"{i:02d}:" + hashlib.blake2b(band, digest_size=8).hexdigest())
    return keys


def to_bytes(sig: np.ndarray) -> bytes:
    return sig.astype("<u4").tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32)


_sig_cache: dict[tuple[str, str], np.ndarray | None] = {}
SIG_CACHE_SIZE = 2048


def _signature_of(article: ArticlePayload) -> np.ndarray | None:
    """The article's signature, or None when too short (cached: a batch asks twice)."""
    key = (article.id, article.content_hash)
    if key in _sig_cache:
        return _sig_cache[key]
    tokens = words(article.body)
    sig = None
    if len(tokens) >= dedup_settings().min_words:
        hashes = shingles(tokens)
        sig = _minhash(hashes) if hashes else None
    if len(_sig_cache) >= SIG_CACHE_SIZE:
        _sig_cache.clear()
    _sig_cache[key] = sig
    return sig


class BatchIndex:
    """The dedup cascade for a batch in a few queries (not a few per article).

    Everything the batch could collide with is loaded up front; articles accepted
    earlier in the same batch are added with :meth:`add`, so copies inside one
    batch are caught too.
    """

    def __init__(
        self,
        session: Session,
        articles: list[ArticlePayload],
        resume_before: datetime | None = None,
    ) -> None:
        self.threshold = dedup_settings().threshold
        ids = sorted({a.id for a in articles})
        urls = sorted({u for a in articles if (u := dedup_key(a.url))})
        hashes = sorted({a.content_hash for a in articles})
        self.records: dict[str, tuple[str, str | None, float | None]] = {}
        self.by_url: dict[str, str] = {}
        self.by_hash: dict[str, str] = {}
        self.bands: dict[str, set[str]] = {}
        self.signatures: dict[str, np.ndarray] = {}
        self.resumable: set[str] = set()
        if ids:
            for rid, status, dup_of, sim, sent_at in session.execute(
                select(
                    IngestRecord.article_id,
                    IngestRecord.status,
                    IngestRecord.duplicate_of,
                    IngestRecord.similarity,
                    IngestRecord.last_sent_at,
                ).where(IngestRecord.article_id.in_(ids))
            ):
                self.records[rid] = (status, dup_of, sim)
                if status == RECEIVED and resume_before is not None:
                    if sent_at is not None and sent_at.tzinfo is None:
                        sent_at = sent_at.replace(tzinfo=UTC)
                    if sent_at is None or sent_at < resume_before:
                        self.resumable.add(rid)
        if urls:
            for url, rid, dup_of in session.execute(
                select(
                    IngestRecord.canonical_url, IngestRecord.article_id, IngestRecord.duplicate_of
                )
                .where(IngestRecord.canonical_url.in_(urls))
                .order_by(IngestRecord.received_at.desc())
            ):
                if url:
                    self.by_url[url] = dup_of or rid  # ascending order wins: the first one
        if hashes:
            for h, rid in session.execute(
                select(IngestRecord.content_hash, IngestRecord.article_id)
                .where(IngestRecord.content_hash.in_(hashes))
                .where(IngestRecord.status != DUPLICATE)
                .order_by(IngestRecord.received_at.desc())
            ):
                self.by_hash[h] = rid
        keys = sorted({k for a in articles for k in self._keys(a)})
        candidates: set[str] = set()
        for start in range(0, len(keys), 1000):
            for band, rid in session.execute(
                select(NearDupBand.band, NearDupBand.article_id).where(
                    NearDupBand.band.in_(keys[start : start + 1000])
                )
            ):
                self.bands.setdefault(band, set()).add(rid)
                candidates.add(rid)
        cand = sorted(candidates)
        for start in range(0, len(cand), 1000):
            for rid, raw in session.execute(
                select(NearDupBand.article_id, NearDupBand.signature)
                .where(NearDupBand.article_id.in_(cand[start : start + 1000]))
                .where(NearDupBand.signature.is_not(None))
            ):
                if raw is not None:
                    self.signatures[rid] = from_bytes(raw)

    def resume(self, article: ArticlePayload) -> bool:
        """True (once per article) when its record is "received", never stored, and
        was last sent before ``resume_before`` (the start of this process).

        Embedded mode only (the caller passes ``resume_before``): the run that sent it
        is gone (interrupted, killed), so the article is sent on again instead of
        being counted as a duplicate of itself. What this process sent itself is in
        hand here, and with a broker the reconciler re-sends what was lost.
        """
        if article.id not in self.resumable:
            return False
        self.resumable.discard(article.id)
        return True

    @staticmethod
    def _keys(article: ArticlePayload) -> list[str]:
        sig = _signature_of(article)
        return band_keys(sig) if sig is not None else []

    def match(self, article: ArticlePayload) -> Match | None:
        record = self.records.get(article.id)
        if record is not None:
            status, dup_of, sim = record
            if status == DUPLICATE and dup_of:
                return Match(dup_of, sim or 1.0, "url")
            return Match(article.id, 1.0, "url" if article.url else "content_hash")
        key = dedup_key(article.url)
        if key and key in self.by_url:
            return Match(self.by_url[key], 1.0, "url")
        if article.content_hash in self.by_hash:
            return Match(self.by_hash[article.content_hash], 1.0, "content_hash")
        return self._near(article)

    def _near(self, article: ArticlePayload) -> Match | None:
        sig = _signature_of(article)
        if sig is None:
            return None
        candidates: set[str] = set()
        for key in band_keys(sig):
            candidates |= self.bands.get(key, set())
        candidates.discard(article.id)
        best: tuple[float, str] | None = None
        for cid in sorted(candidates)[:MAX_CANDIDATES]:
            other = self.signatures.get(cid)
            if other is None:
                continue
            sim = similarity(sig, other)
            if best is None or sim > best[0]:
                best = (sim, cid)
        if best is None or best[0] < self.threshold:
            return None
        return Match(best[1], best[0], "near_duplicate")

    def add(self, article: ArticlePayload, duplicate_of: str | None = None) -> None:
        """Make an article visible to the rest of the batch (accepted or duplicate)."""
        status = DUPLICATE if duplicate_of else "received"
        self.records[article.id] = (status, duplicate_of, None)
        key = dedup_key(article.url)
        if key:
            self.by_url.setdefault(key, duplicate_of or article.id)
        if duplicate_of:
            return
        self.by_hash.setdefault(article.content_hash, article.id)
        sig = _signature_of(article)
        if sig is not None:
            self.signatures[article.id] = sig
            for key in band_keys(sig):
                self.bands.setdefault(key, set()).add(article.id)


def seen_urls(
    session: Session, canonicals: list[str], *, resume_before: datetime | None = None
) -> dict[str, str]:
    """Before fetching: canonical URL -> first article id, for the URLs already known.

    ``resume_before``: records still "received" (never stored) that were last sent
    before it do not count, so the pages of an interrupted embedded run are fetched
    and resumed (see :meth:`BatchIndex.resume`).
    """
    if not canonicals:
        return {}
    by_id = {article_id(c, None, ""): c for c in canonicals}
    found: dict[str, str] = {}
    rows = session.execute(
        select(
            IngestRecord.article_id,
            IngestRecord.canonical_url,
            IngestRecord.duplicate_of,
            IngestRecord.status,
            IngestRecord.last_sent_at,
        )
        .where(
            IngestRecord.article_id.in_(sorted(by_id))
            | IngestRecord.canonical_url.in_(sorted(set(canonicals)))
        )
        .order_by(IngestRecord.received_at.desc())
    )
    for rid, url, dup_of, status, sent_at in rows:
        if resume_before is not None and status == RECEIVED:
            if sent_at is not None and sent_at.tzinfo is None:
                sent_at = sent_at.replace(tzinfo=UTC)
            if sent_at is None or sent_at < resume_before:
                continue
        key = by_id.get(rid) or url
        if key:
            found[key] = dup_of or rid
    return found


def remember(session: Session, articles: ArticlePayload | list[ArticlePayload]) -> None:
    """Index accepted articles' LSH bands for later near-duplicate checks."""
    batch = articles if isinstance(articles, list) else [articles]
    rows: list[dict[str, Any]] = []
    for article in batch:
        sig = _signature_of(article)
        if sig is None:
            continue
        rows.extend(
            {"band": key, "article_id": article.id, "signature": to_bytes(sig) if i == 0 else None}
            for i, key in enumerate(band_keys(sig))
        )
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    table = cast(Table, NearDupBand.__table__)
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    # executemany with one cached statement (a multi-VALUES insert recompiles each time).
    stmt = insert.on_conflict_do_nothing(index_elements=["band", "article_id"])
    session.execute(stmt, rows)
