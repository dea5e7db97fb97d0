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

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.ingest.config import dedup_settings
from shared.ids import normalize_for_hash
from shared.models import DUPLICATE, IngestRecord, NearDupBand
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
    if not hashes:
        return None
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


def _eligible(article: ArticlePayload) -> bool:
    return len(words(article.body)) >= dedup_settings().min_words


def find_near_duplicate(session: Session, article: ArticlePayload) -> Match | None:
    if not _eligible(article):
        return None
    sig = signature(article.body)
    if sig is None:
        return None
    keys = band_keys(sig)
    candidates = list(
        session.scalars(
            select(NearDupBand.article_id)
            .where(NearDupBand.band.in_(keys))
            .where(NearDupBand.article_id != article.id)
            .distinct()
            .limit(MAX_CANDIDATES)
        )
    )
    if not candidates:
        return None
    best: tuple[float, str] | None = None
    rows = session.execute(
        select(NearDupBand.article_id, NearDupBand.signature)
        .where(NearDupBand.article_id.in_(candidates))
        .where(NearDupBand.signature.is_not(None))
    )
    for cand_id, raw in rows:
        sim = similarity(sig, from_bytes(raw))
        if best is None or sim > best[0] or (sim == best[0] and cand_id < best[1]):
            best = (sim, cand_id)
    if best is None or best[0] < dedup_settings().threshold:
        return None
    return Match(best[1], best[0], "near_duplicate")


def find_duplicate(session: Session, article: ArticlePayload) -> Match | None:
    record = session.get(IngestRecord, article.id)
    if record is not None:
        if record.status == DUPLICATE and record.duplicate_of:
            return Match(record.duplicate_of, record.similarity or 1.0, "url")
        return Match(article.id, 1.0, "url" if article.url else "content_hash")
    if article.url:
        same_url = session.scalar(
            select(IngestRecord)
            .where(IngestRecord.canonical_url == article.url)
            .order_by(IngestRecord.received_at)
            .limit(1)
        )
        if same_url is not None:
            return Match(same_url.duplicate_of or same_url.article_id, 1.0, "url")
    first = session.scalar(
        select(IngestRecord.article_id)
        .where(IngestRecord.content_hash == article.content_hash)
        .where(IngestRecord.status != DUPLICATE)
        .order_by(IngestRecord.received_at)
        .limit(1)
    )
    if first is not None:
        return Match(first, 1.0, "content_hash")
    return find_near_duplicate(session, article)


def seen_url(session: Session, canonical: str) -> Match | None:
    """Before fetching a URL: is that canonical URL already known?"""
    from shared.ids import article_id

    record = session.get(IngestRecord, article_id(canonical, None, ""))
    if record is None:
        record = session.scalar(
            select(IngestRecord).where(IngestRecord.canonical_url == canonical).limit(1)
        )
    if record is None:
        return None
    return Match(record.duplicate_of or record.article_id, 1.0, "url")


def remember(session: Session, article: ArticlePayload) -> None:
    """Index an accepted article's LSH bands for later near-duplicate checks."""
    if not _eligible(article):
        return
    sig = signature(article.body)
    if sig is None:
        return
    rows = [
        {"band": key, "article_id": article.id, "signature": to_bytes(sig) if i == 0 else None}
        for i, key in enumerate(band_keys(sig))
    ]
    dialect = session.get_bind().dialect.name
    table = NearDupBand.__table__
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = insert.values(rows).on_conflict_do_nothing(index_elements=["band", "article_id"])
    session.execute(stmt)
