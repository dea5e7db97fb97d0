"""Stories: articles that report one event, grouped online as they are stored.

Where it runs: on the store side, right after a batch's articles are written, in a
transaction of its own (``store_batch`` -> :func:`cluster_articles`), like the search
documents. Its backlog needs no outbox: an article whose ``story_id`` is NULL is not
clustered yet (a partial index keeps those cheap to find), so a worker that dies in
between loses nothing and the ``store.cluster_stories`` sweep
(:func:`cluster_backlog`) finishes what is left. A separate stage on its own queue
would cost a message hop per batch and a second copy of the article's tags; the store
already has both in the database.

How an article is placed (single pass, no re-clustering of old articles):

1. its features: title and lead (the first ``LEAD_CHARS`` of the body) as weighted
   terms (title counts ``TITLE_WEIGHT`` times; stop words dropped, plurals folded), and
   its entities weighted by label (people and organisations weigh more than places,
   which unrelated stories share), with its countries as light entity features; each
   feature weighed by its rarity among clustered articles (document frequencies in
   ``story_terms``, counted in the process and written in bulk: :class:`_Frequencies`);
2. candidates: stories that share at least ``MIN_SHARED_KEYS`` keys (entities, title
   terms) with it, whose span of dates is within ``WINDOW`` of the article's date;
3. score = ``TEXT_SHARE`` x cosine(terms, story centroid) + (1 - ``TEXT_SHARE``) x
   cosine(entities, story entities), damped by the time between the article and the
   story's span; the best story at or above ``THRESHOLD`` takes it, otherwise the
   article starts a story.

Time is the article's date (published, else ingested), never the wall clock, so a
late article still joins the story of its day by date and key, even after that story
has gone quiet; a story is "open" in the views while its last article is younger
than ``QUIET``.

Determinism and concurrency: an article that already has a story is never moved
(redelivery, replay and re-enrichment change nothing; only ``rebuild`` regroups).
Within a transaction articles are placed in (date, id) order. On PostgreSQL the whole
step holds one transaction-scoped advisory lock, so two store workers never both
start a story for one event: the second sees the first's story once it commits.
SQLite takes its single write lock up front for the same effect.

Cost: a store worker on PostgreSQL keeps the open stories in memory
(:class:`_StoryCache`) and refreshes them under the lock from what changed since it
last looked, so a batch costs two round trips and reads no candidate story; the
backlog sweep, rebuild and SQLite read candidates from ``story_keys`` per batch.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, event, func, or_, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.store.models import (
    Article,
    ArticleCountry,
    ArticleEntity,
    ArticleRegion,
    Entity,
    Story,
    StoryKey,
    StoryTerm,
)
from services.store.repository import _collector_paused
from shared.db import is_postgres, session_scope
from shared.logging import get_logger
from shared.schemas import EnrichedArticle, utcnow

log = get_logger(__name__)

# ---------------------------------------------------------------- parameters

WINDOW = timedelta(hours=48)  # an article joins stories whose span is this close to it
QUIET = timedelta(hours=36)  # a story without a newer article is closed (views)
GROWTH_HOURS = 6  # growth = articles per hour over the hours before the last article
THRESHOLD = 0.30
TEXT_SHARE = 0.5
TIME_SCALE_H = 24.0  # score x 1 / (1 + hours outside the story's span / TIME_SCALE_H)
TITLE_WEIGHT = 3.0
LEAD_CHARS = 600
MAX_TERMS = 60  # terms kept in a story's centroid
MAX_ENTITIES = 60  # entities kept in a story's profile
MIN_SHARED_KEYS = 2
MAX_CANDIDATES = 5  # best-sharing candidate stories scored per article
# A key shared by more stories than this within the window (a country's capital, a
# word of every headline) picks no candidate: it tells nothing and costs the most.
MAX_KEY_STORIES = 100
KEY_CHARS = 120
# Document frequencies (story_terms) are counted in the process and written in bulk:
# after this many articles or seconds (whichever first), and re-read after DF_REFRESH_S
# (what other workers wrote). See :class:`_Frequencies`.
DF_FLUSH_ARTICLES = 2000
DF_FLUSH_S = 30.0
DF_REFRESH_S = 300.0
DF_MAX_TERMS = 300_000
ADVISORY_LOCK = 0x6E777374  # "nwst": one clustering transaction at a time (PostgreSQL)
LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"

LABEL_WEIGHTS = {
    "PERSON": 3.0,
    "ORG": 2.5,
    "EVENT": 2.5,
    "FAC": 2.0,
    "PRODUCT": 2.0,
    "WORK_OF_ART": 2.0,
    "LAW": 2.0,
    "GPE": 1.2,
    "LOC": 1.2,
    "NORP": 0.6,
}
COUNTRY_WEIGHT = 0.5
# Labels whose entities are lookup keys (places too: they narrow the candidates).
KEY_LABELS = frozenset(LABEL_WEIGHTS)

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves said says say saying told tells tell according report reports reported
    reporting news new week weeks day days year years month months monday tuesday wednesday
    thursday friday saturday sunday today yesterday tomorrow morning evening night time times
    one two three four five six seven eight nine ten first second third last late latest
    early many much several least people official officials statement statements added
    may might must shall us via amid since around across per including including already
    still yet another among within without upon toward towards however though although
    mr mrs ms dr""".split()
)
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def _stem(word: str) -> str:
    """Fold plurals, possessives and the commonest verb endings (crude, fast, stable)."""
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    n = len(word)
    if n > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if n > 5 and word.endswith("ing"):
        return word[:-3]
    if n > 4 and word.endswith("ed") and not word.endswith("eed"):
        return word[:-2]
    if n > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


_STEMS: dict[str, str] = {}


def terms(text_: str | None) -> list[str]:
    """Content words of a text, lower-cased and stemmed (stop words and words of one or
    two letters dropped)."""
    if not text_:
        return []
    stems = _STEMS
    if len(stems) > 200_000:
        stems.clear()
    out = []
    for w in _WORD_RE.findall(text_.lower()):
        t = stems.get(w)
        if t is None:
            t = stems[w] = "" if len(w) < 3 or w in STOPWORDS else _stem(w)
        if t:
            out.append(t)
    return out


def _normalized(weights: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in weights.values()))
    return {k: v / norm for k, v in weights.items()} if norm else {}


def _top(weights: dict[str, float], n: int) -> dict[str, float]:
    """The ``n`` heaviest, ties by key (two stable sorts in C: by key, then by weight
    descending; the same as sorting by (-weight, key))."""
    if len(weights) <= n:
        return weights
    ranked = sorted(weights.items())
    ranked.sort(key=itemgetter(1), reverse=True)
    return dict(ranked[:n])


def _cosine(unit: dict[str, float], other: dict[str, float], squares: float | None = None) -> float:
    """``unit`` is normalized; ``other`` is not (``squares``: its sum of squares, when
    known)."""
    if not unit or not other:
        return 0.0
    # Only the shared keys (found in C, a few of the item's); fsum is exact whatever
    # the order the set yields them in.
    dot = math.fsum([unit[k] * other[k] for k in unit.keys() & other.keys()])
    if not dot:
        return 0.0
    if squares is None:
        squares = sum(v * v for v in other.values())
    return dot / math.sqrt(squares) if squares > 0 else 0.0


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# ---------------------------------------------------------------- article features


@dataclass
class Item:
    """What clustering knows of one article."""

    id: str
    title: str
    source: str | None
    dated_at: datetime
    terms: dict[str, float]  # weights, normalized once weighed by rarity (_weigh)
    entities: dict[str, float]  # the same
    names: dict[str, tuple[str, str]]  # entity key -> (name, label)
    countries: dict[str, str]  # code -> name
    regions: dict[str, tuple[str, str]]  # code -> (name, scheme)
    keys: list[str] = field(default_factory=list)  # candidate lookup keys
    filter_keys: list[str] = field(default_factory=list)  # stored for the view filters
    title_terms: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)  # as counted in story_terms


def entity_key(name: str) -> str:
    return ("e:" + name.strip().lower())[:KEY_CHARS]


def make_item(
    article_id: str,
    title: str | None,
    lead: str | None,
    source: str | None,
    dated_at: datetime,
    entities: Iterable[tuple[str, str, int, bool]] = (),
    countries: Iterable[tuple[str, str]] = (),
    regions: Iterable[tuple[str, str, str]] = (),
) -> Item:
    """Features of an article: ``entities`` as (name, label, count, in_title),
    ``countries`` as (code, name), ``regions`` as (code, name, scheme)."""
    title_terms = terms(title)
    # Presence, not counts: a word repeated in a lead is not more telling, and the
    # commonest words (which no stop list catches) would otherwise outweigh the rest.
    tw: dict[str, float] = dict.fromkeys(terms((lead or "")[:LEAD_CHARS]), 1.0)
    for t in title_terms:
        tw[t] = TITLE_WEIGHT + (1.0 if t in tw else 0.0)
    ew: dict[str, float] = defaultdict(float)
    names: dict[str, tuple[str, str]] = {}
    for name, label, count, in_title in entities:
        if not name.strip():
            continue
        key = entity_key(name)
        weight = LABEL_WEIGHTS.get(label, 1.0) * (1.0 + math.log(max(count, 1)))
        ew[key] += weight * (2.0 if in_title else 1.0)
        names.setdefault(key, (name, label))
    cmap = dict(countries)
    for code in cmap:
        ew["c:" + code] += COUNTRY_WEIGHT
    rmap = {code: (name, scheme) for code, name, scheme in regions}
    # Sets, not sorted lists: every use of them is order-free (or sorts itself).
    keys = list(
        {k for k in names if names[k][1] in KEY_LABELS} | {"t:" + t[:100] for t in title_terms}
    )
    region_keys = {("r:" + c.lower())[:KEY_CHARS] for c in rmap}
    region_keys |= {("r:" + name.lower())[:KEY_CHARS] for name, _ in rmap.values()}
    filter_keys = list(set(names) | {"c:" + c for c in cmap} | region_keys)
    return Item(
        id=article_id,
        title=(title or "").strip(),
        source=source,
        dated_at=_aware(dated_at),
        terms=tw,
        entities=ew,
        names=names,
        countries=cmap,
        regions=rmap,
        keys=keys,
        filter_keys=filter_keys,
        title_terms=title_terms,
        features=list({"w:" + t[:100] for t in tw}.union(ew)),
    )


def item_of(a: EnrichedArticle) -> Item:
    """Features of an article as the store writes it (the names, labels and codes
    ``repository._tag_rows`` keeps), without reading it back."""
    entities: dict[tuple[str, str], list[Any]] = {}
    for e in a.entities:
        name = (e.canonical or e.text).replace("\x00", "")[:300]
        label = e.label.replace("\x00", "")[:20]
        if not label or not name.strip():
            continue
        row = entities.get((name, label))
        if row is None:
            entities[(name, label)] = [name, label, e.count, e.in_title]
        else:
            row[2] += e.count
            row[3] = row[3] or e.in_title
    countries: dict[str, str] = {}
    for c in a.countries:
        code = c.code.upper()
        if len(code) == 2 and code not in countries:
            countries[code] = c.name.replace("\x00", "")[:100] or code
    regions: dict[tuple[str, str], tuple[str, str, str]] = {}
    for r in a.regions:
        scheme, code = r.scheme[:16], r.code.replace("\x00", "")[:64]
        if code and (scheme, code) not in regions:
            regions[(scheme, code)] = (code, r.name.replace("\x00", "")[:100] or code, scheme)
    body = a.body.replace("\x00", "") if "\x00" in a.body else a.body
    return make_item(
        a.id,
        a.title.replace("\x00", "") if a.title else a.title,
        body[:LEAD_CHARS],
        a.source[:300] if a.source else a.source,
        a.published_at or a.ingested_at,
        sorted((n, lab, c, t) for n, lab, c, t in entities.values()),
        sorted(countries.items()),
        sorted(regions.values()),
    )


def load_items(session: Session, ids: Sequence[str]) -> list[Item]:
    """Features of the given articles that have no story yet, in (date, id) order."""
    if not ids:
        return []
    if is_postgres(session):
        return _load_items_pg(session, sorted(set(ids)))
    rows: list[Any] = []
    for start in range(0, len(ids), 500):
        rows.extend(
            session.execute(
                select(
                    Article.id,
                    Article.title,
                    func.substr(Article.body, 1, LEAD_CHARS),
                    Article.source,
                    Article.dated_at,
                )
                .where(Article.id.in_(sorted(ids)[start : start + 500]))
                .where(Article.story_id.is_(None))
            ).all()
        )
    if not rows:
        return []
    found = [r[0] for r in rows]
    ents: dict[str, list[tuple[str, str, int, bool]]] = defaultdict(list)
    ctry: dict[str, list[tuple[str, str]]] = defaultdict(list)
    regs: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for start in range(0, len(found), 500):
        part = found[start : start + 500]
        for aid, name, label, count, in_title in session.execute(
            select(
                ArticleEntity.article_id,
                Entity.name,
                Entity.label,
                ArticleEntity.count,
                ArticleEntity.in_title,
            )
            .join(Entity, Entity.id == ArticleEntity.entity_id)
            .where(ArticleEntity.article_id.in_(part))
        ):
            ents[aid].append((name, label, count, bool(in_title)))
        for aid, code, cname in session.execute(
            select(ArticleCountry.article_id, ArticleCountry.code, ArticleCountry.name).where(
                ArticleCountry.article_id.in_(part)
            )
        ):
            ctry[aid].append((code, cname))
        for aid, code, rname, scheme in session.execute(
            select(
                ArticleRegion.article_id,
                ArticleRegion.code,
                ArticleRegion.name,
                ArticleRegion.scheme,
            ).where(ArticleRegion.article_id.in_(part))
        ):
            regs[aid].append((code, rname, scheme))
    return _items(rows, ents, ctry, regs)


def _items(
    rows: list[Any],
    ents: dict[str, list[tuple[str, str, int, bool]]],
    ctry: dict[str, list[tuple[str, str]]],
    regs: dict[str, list[tuple[str, str, str]]],
) -> list[Item]:
    items = [
        make_item(
            aid,
            title,
            lead,
            source,
            dated,
            sorted(ents.get(aid, [])),
            sorted(ctry.get(aid, [])),
            sorted(regs.get(aid, [])),
        )
        for aid, title, lead, source, dated in rows
    ]
    items.sort(key=lambda i: (i.dated_at, i.id))
    return items


# Which of these articles have no story yet: read by primary key and told apart in
# Python. With "AND story_id IS NULL" the planner walks the index on story_id, which
# until a vacuum holds an entry for the NULL every clustered article was written with
# (a tenth of a second per batch of 1000 at 100,000 articles).
_UNPLACED = "SELECT id, story_id, enriched_at FROM articles WHERE id = ANY(%b::text[])"


def _pg(session: Session) -> Any:
    """The psycopg connection under the session, in its transaction: the clustering
    step's statements are few and written in plain SQL, so they skip SQLAlchemy's
    statement building (most of the step's cost through the ORM)."""
    dbapi = session.connection().connection.driver_connection
    assert dbapi is not None
    return dbapi


def _load_items_pg(session: Session, ids: list[str]) -> list[Item]:
    with _pg(session).cursor() as cur:
        cur.execute(
            f"SELECT id, title, substr(body, 1, {LEAD_CHARS}), source, dated_at, story_id "
            "FROM articles WHERE id = ANY(%b::text[])",
            (ids,),
        )
        rows = [r[:5] for r in cur.fetchall() if r[5] is None]  # see _UNPLACED
        if not rows:
            return []
        found = [r[0] for r in rows]
        ents: dict[str, list[tuple[str, str, int, bool]]] = defaultdict(list)
        ctry: dict[str, list[tuple[str, str]]] = defaultdict(list)
        regs: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        cur.execute(
            "SELECT 'e', ae.article_id, e.name, e.label, ae.count::text, ae.in_title "
            "FROM article_entities ae JOIN entities e ON e.id = ae.entity_id "
            "WHERE ae.article_id = ANY(%b::text[]) "
            "UNION ALL SELECT 'c', article_id, code, name, NULL, NULL FROM article_countries "
            "WHERE article_id = ANY(%b::text[]) "
            "UNION ALL SELECT 'r', article_id, code, name, scheme, NULL FROM article_regions "
            "WHERE article_id = ANY(%b::text[])",
            (found, found, found),
        )
        for kind, aid, a, b, c, d in cur.fetchall():
            if kind == "e":
                ents[aid].append((a, b, int(c), bool(d)))
            elif kind == "c":
                ctry[aid].append((a, b))
            else:
                regs[aid].append((a, b, c))
    return _items(rows, ents, ctry, regs)


# ---------------------------------------------------------------- document frequencies


class _Frequencies:
    """The document frequencies of one database as this process knows them.

    ``story_terms`` is the shared count. Reading and upserting it for every batch cost
    more than the rest of the clustering together (a thousand features per batch of
    twenty), so a process reads each feature once (refreshed after DF_REFRESH_S, to see
    what other workers counted), counts its own articles in memory, and writes its
    counts in one upsert after DF_FLUSH_ARTICLES articles or DF_FLUSH_S seconds. The
    counts weigh features (rare ones tell more); they do not decide where an article
    already is, so redelivery and replay still change nothing, and in one process
    (rebuild, the sweep, tests) they are exact whatever the timing. The backlog sweep
    and rebuild write what their process still holds when they finish; counts not yet
    written when a worker dies are lost: the weights drift by that little."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.known: dict[str, int] = {}  # stored count when read + this process's since
        self.pending: dict[str, int] = defaultdict(int)  # counted here, not yet written
        self.read_at = time.monotonic()
        self.written_at = time.monotonic()

    def missing(self, features: Iterable[str]) -> list[str]:
        with self.lock:
            now = time.monotonic()
            if now - self.read_at > DF_REFRESH_S or len(self.known) > DF_MAX_TERMS:
                self.known.clear()
                self.read_at = now
            known = self.known
            return [f for f in features if f not in known]

    def learn(self, missing: Iterable[str], stored: dict[str, int]) -> None:
        """``stored``: the counts read for ``missing`` (absent: none stored yet)."""
        with self.lock:
            for f in missing:
                self.known[f] = stored.get(f, 0) + self.pending.get(f, 0)

    def of(self, features: Iterable[str]) -> dict[str, int]:
        with self.lock:
            known = self.known
            return {f: known.get(f, 0) for f in features}

    def due(self, force: bool = False) -> list[tuple[str, int]]:
        """The counts to write now (all of them when ``force``), sorted (concurrent
        upserts lock rows in the same order)."""
        with self.lock:
            pending = self.pending
            if not pending or not (
                force
                or pending.get("", 0) >= DF_FLUSH_ARTICLES
                or time.monotonic() - self.written_at >= DF_FLUSH_S
            ):
                return []
            return sorted(pending.items())

    def counted(self, counts: list[tuple[str, int]], written: list[tuple[str, int]]) -> None:
        """After a successful write: ``counts`` (this batch's) are known, ``written``
        are no longer pending."""
        with self.lock:
            known, pending = self.known, self.pending
            for f, n in counts:
                pending[f] += n
                if f in known:
                    known[f] += n
            if written:
                for f, n in written:
                    left = pending[f] - n
                    if left:
                        pending[f] = left
                    else:
                        del pending[f]
                self.written_at = time.monotonic()

    def forget(self, pending: bool) -> None:
        """Drop what was read (the stored counts changed), and the pending counts too
        when ``pending`` (their articles are to be counted again)."""
        with self.lock:
            self.known.clear()
            self.read_at = time.monotonic()
            if pending:
                self.pending.clear()


_FREQUENCIES: dict[str, _Frequencies] = {}
_FREQUENCIES_LOCK = threading.Lock()


def _frequencies(session: Session) -> _Frequencies:
    key = str(session.get_bind().engine.url)
    with _FREQUENCIES_LOCK:
        freq = _FREQUENCIES.get(key)
        if freq is None or freq.pid != os.getpid():  # a forked child counts afresh
            freq = _FREQUENCIES[key] = _Frequencies()
        return freq


def _upsert_terms_pg(cur: Any, counts: list[tuple[str, int]]) -> None:
    cur.execute(
        "INSERT INTO story_terms (term, articles) "
        "SELECT * FROM unnest(%b::text[], %b::int[]) "
        "ON CONFLICT (term) DO UPDATE SET articles = story_terms.articles + EXCLUDED.articles",
        ([t for t, _ in counts], [n for _, n in counts]),
    )


def _upsert_terms_orm(session: Session, counts: list[tuple[str, int]]) -> None:
    for start in range(0, len(counts), 400):
        stmt = sqlite_insert(StoryTerm).values(
            [{"term": t, "articles": n} for t, n in counts[start : start + 400]]
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["term"],
                set_={"articles": StoryTerm.articles + stmt.excluded.articles},
            )
        )


def write_frequencies(session: Session) -> int:
    """Write this process's pending document frequencies now (end of a sweep or a
    rebuild, before a reset). Returns how many features were written."""
    freq = _frequencies(session)
    due = freq.due(force=True)
    if due:
        if is_postgres(session):
            with _pg(session).cursor() as cur:
                _upsert_terms_pg(cur, due)
        else:
            _upsert_terms_orm(session, due)
        freq.counted([], due)
    return len(due)


# ---------------------------------------------------------------- story state


@dataclass
class _Row:
    """The columns of a story that clustering sets besides the profile's."""

    id: int  # 0 until a new story is written
    title: str = ""
    article_id: str | None = None


@dataclass
class _Open:
    """A story as clustering sees it during one transaction."""

    row: _Row
    profile: dict[str, Any]
    first: datetime
    last: datetime
    changed: bool = False
    version: int = 0  # PostgreSQL: the story_versions value of its last write

    @classmethod
    def of(
        cls,
        sid: int,
        title: str,
        article_id: str | None,
        first: datetime,
        last: datetime,
        profile: dict[str, Any] | None,
        version: int = 0,
    ) -> _Open:
        return cls(
            _Row(sid, title, article_id),
            dict(profile or {}),
            _aware(first),
            _aware(last),
            version=version,
        )

    def gap_hours(self, when: datetime) -> float:
        if when < self.first:
            return (self.first - when).total_seconds() / 3600
        if when > self.last:
            return (when - self.last).total_seconds() / 3600
        return 0.0

    def score(self, item: Item) -> float:
        p = self.profile
        text_sim = _cosine(item.terms, p.get("terms") or {}, p.get("tn"))
        ent_sim = _cosine(item.entities, p.get("ents") or {}, p.get("en"))
        s = TEXT_SHARE * text_sim + (1.0 - TEXT_SHARE) * ent_sim
        return s / (1.0 + self.gap_hours(item.dated_at) / TIME_SCALE_H)

    def add(self, item: Item) -> None:
        """Take the article in: the profile is updated in place (it was read for this
        transaction only)."""
        p = self.profile
        p["n"] = int(p.get("n", 0)) + 1
        for field_, norm, values, cap in (
            ("terms", "tn", item.terms, MAX_TERMS),
            ("ents", "en", item.entities, MAX_ENTITIES),
        ):
            sums = p.setdefault(field_, {})
            squares = float(p.get(norm) or 0.0)
            for k, v in values.items():
                old = sums.get(k, 0.0)
                sums[k] = new = old + v
                squares += new * new - old * old
            if len(sums) > cap + cap // 2:  # trimmed now and then, not on every article
                sums = p[field_] = _top(sums, cap)
                squares = sum(v * v for v in sums.values())
            p[norm] = squares
        entities = p.setdefault("entities", {})
        for k, (name, label) in item.names.items():
            entry = entities.get(k)
            if entry is None:
                entities[k] = [name, label, 1]
            else:
                entry[2] += 1
        if len(entities) > MAX_ENTITIES + MAX_ENTITIES // 2:
            p["entities"] = dict(
                sorted(entities.items(), key=lambda kv: (-kv[1][2], kv[0]))[:MAX_ENTITIES]
            )
        countries = p.setdefault("countries", {})
        for code, cname in item.countries.items():
            countries.setdefault(code, [cname, 0])[1] += 1
        regions = p.setdefault("regions", {})
        for code, (rname, scheme) in item.regions.items():
            regions.setdefault(code, [rname, scheme, 0])[2] += 1
        sources = p.setdefault("sources", {})
        src = item.source or "?"
        sources[src] = sources.get(src, 0) + 1
        self.first = min(self.first, item.dated_at)
        self.last = max(self.last, item.dated_at)
        # Dates (epoch seconds) of the articles in the GROWTH_HOURS before the last one.
        cutoff = self.last.timestamp() - GROWTH_HOURS * 3600
        when = item.dated_at.timestamp()
        recent = [r for r in p.get("recent") or [] if r > cutoff]
        if when > cutoff:
            recent.append(when)
        p["recent"] = sorted(recent)
        # Representative title: the title closest to the story's centroid so far.
        rep = _cosine(_normalized(dict.fromkeys(item.title_terms, 1.0)), p["terms"], p["tn"])
        if item.title and (not self.row.title or rep > float(p.get("rep", 0.0)) + 0.05):
            self.row.title = item.title
            self.row.article_id = item.id
            p["rep"] = rep
        self.changed = True

    COLUMNS = (
        "title",
        "article_id",
        "first_seen",
        "last_seen",
        "article_count",
        "source_count",
        "growth",
        "profile",
    )

    def columns(self) -> dict[str, Any]:
        p = self.profile
        return {
            "title": self.row.title,
            "article_id": self.row.article_id,
            "first_seen": self.first,
            "last_seen": self.last,
            "article_count": int(p["n"]),
            "source_count": len(p["sources"]),
            "growth": round(len(p["recent"]) / GROWTH_HOURS, 3),
            "profile": p,
        }


# ---------------------------------------------------------------- clustering


@dataclass
class ClusterResult:
    articles: int = 0  # placed in this call
    joined: int = 0  # into an existing story
    created: int = 0  # stories started
    skipped: int = 0  # already in a story (redelivery) or not stored
    # place_batch: the story of each article placed, for the article's own INSERT
    placed: dict[str, int] = field(default_factory=dict)

    def __iadd__(self, other: ClusterResult) -> ClusterResult:
        self.articles += other.articles
        self.joined += other.joined
        self.created += other.created
        self.skipped += other.skipped
        return self


def _lock(session: Session) -> None:
    """Serialize clustering transactions: stories of one event are never started twice."""
    if is_postgres(session):
        with _pg(session).cursor() as cur:
            cur.execute(LOCK_SQL, (ADVISORY_LOCK,))
    else:  # SQLite: take the database's write lock now, not at the first write
        session.execute(text("UPDATE stories SET id = id WHERE 0 = 1"))


Spans = dict[int, tuple[datetime, datetime]]


def _date_groups(items: list[Item]) -> list[list[Item]]:
    """Items (sorted by date) in runs spanning at most a day each: a batch with articles
    from many days (a backfill) looks up each day's candidates in its own window."""
    groups: list[list[Item]] = []
    for item in items:
        if groups and item.dated_at - groups[-1][0].dated_at <= timedelta(days=1):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _candidates(
    session: Session, items: list[Item], floor: tuple[datetime, int] | None
) -> tuple[dict[str, set[int]], Spans]:
    """Story ids by key, and their spans, for the stories sharing a key with an item and
    within the window of its dates (see :func:`rebuild` for ``floor``)."""
    by_key: dict[str, set[int]] = defaultdict(set)
    spans: Spans = {}
    postgres = is_postgres(session)
    for group in _date_groups(items):
        keys = sorted({k for i in group for k in i.keys})
        lo = group[0].dated_at - WINDOW
        hi = group[-1].dated_at + WINDOW
        if postgres:
            with _pg(session).cursor() as cur:
                cur.execute(*_candidates_sql(keys, lo, hi, floor))
                _collect(cur.fetchall(), by_key, spans)
            continue
        in_window = [Story.last_seen >= lo, Story.first_seen <= hi]
        if floor is not None:
            in_window.append(or_(Story.last_seen >= floor[0], Story.id > floor[1]))
        lowest = select(func.coalesce(func.min(Story.id), 0)).where(*in_window).scalar_subquery()
        for start in range(0, len(keys), 500):
            stmt = (
                select(StoryKey.key, StoryKey.story_id, Story.first_seen, Story.last_seen)
                .join(Story, Story.id == StoryKey.story_id)
                .where(StoryKey.key.in_(keys[start : start + 500]), StoryKey.story_id >= lowest)
                .where(*in_window)
            )
            for key, sid, first, last in session.execute(stmt):
                by_key[key].add(sid)
                spans[sid] = (_aware(first), _aware(last))
    return by_key, spans


def _collect(rows: list[Any], by_key: dict[str, set[int]], spans: Spans) -> None:
    """Rows of :func:`_candidates_sql` into story ids by key and spans."""
    for sid, first, last, keys in rows:
        spans[sid] = (_aware(first), _aware(last))
        for key in keys:
            by_key[key].add(sid)


def _candidates_sql(
    keys: list[str], lo: datetime, hi: datetime, floor: tuple[datetime, int] | None
) -> tuple[str, tuple[Any, ...]]:
    """The stories in the window that have one of ``keys``: (id, first_seen, last_seen,
    the keys it has), one row per story.

    A key's entries in story_keys are read from the lowest id of a story in the window
    on (the primary key is (key, story_id)), not from the first story that ever had it:
    a country's capital or a word of every headline is in thousands of stories, most of
    them long over (at 100,000 articles that took three quarters of the step). The
    lowest id comes from the few stories of the window (OFFSET 0: by their dates, not
    by walking the ids); MATERIALIZED keeps the planner from starting with the window's
    stories and reading all their keys instead."""
    window = "last_seen >= %s AND first_seen <= %s"
    of_s = "s.last_seen >= %s AND s.first_seen <= %s"
    params: tuple[Any, ...] = (lo, hi)
    if floor is not None:
        window += " AND (last_seen >= %s OR id > %s)"
        of_s += " AND (s.last_seen >= %s OR s.id > %s)"
        params += (floor[0], floor[1])
    sql = (
        "WITH k AS MATERIALIZED (SELECT key, story_id FROM story_keys "
        "WHERE key = ANY(%b::text[]) AND story_id >= (SELECT coalesce(min(w.id), 0) "
        f"FROM (SELECT id FROM stories WHERE {window} OFFSET 0) AS w)) "
        "SELECT s.id, s.first_seen, s.last_seen, array_agg(k.key) FROM k "
        f"JOIN stories s ON s.id = k.story_id WHERE {of_s} "
        "GROUP BY s.id, s.first_seen, s.last_seen"
    )
    return sql, (keys, *params, *params)


def _ranked(
    item: Item,
    by_key: dict[str, set[int]],
    spans: Spans,
    window: tuple[datetime, datetime] | None = None,
    memo: dict[str, set[int] | None] | None = None,
) -> list[int]:
    """Candidate stories of an item: within the window of its date, sharing at least
    MIN_SHARED_KEYS keys with it, those sharing the most first.

    ``by_key`` holds the stories of the item's date group's ``window`` (or, from the
    cache, more: then a key's stories are counted within ``window``, once per group
    in ``memo``): a key of more than MAX_KEY_STORIES of them picks none."""
    found_sets: list[set[int]] = []
    for k in item.keys:
        sids = by_key.get(k)
        if not sids:
            continue
        if len(sids) > MAX_KEY_STORIES:
            if window is None or memo is None:
                continue
            if k in memo:
                found = memo[k]
            else:
                lo, hi = window
                found = set()
                for sid in sids:
                    first, last = spans[sid]
                    if last >= lo and first <= hi:
                        found.add(sid)
                        if len(found) > MAX_KEY_STORIES:
                            found = None
                            break
                memo[k] = found
            if found is None:
                continue
            sids = found
        found_sets.append(sids)
    shared = Counter(chain.from_iterable(found_sets))  # counted in C
    earliest, latest = item.dated_at - WINDOW, item.dated_at + WINDOW
    return sorted(
        (
            sid
            for sid, n in shared.items()
            if n >= MIN_SHARED_KEYS and spans[sid][0] <= latest and spans[sid][1] >= earliest
        ),
        key=lambda sid: (-shared[sid], sid),
    )[:MAX_CANDIDATES]


def cluster_articles(
    session: Session,
    ids: Sequence[str],
    *,
    floor: tuple[datetime, int] | None = None,
    articles: Sequence[EnrichedArticle] | None = None,
    savepoint: bool = False,
) -> ClusterResult:
    """Place these articles into stories, in the caller's transaction (see module doc);
    with ``savepoint``, a failure undoes the clustering only, not the caller's work.

    Articles already in a story, or not stored, are skipped. ``floor`` = (since, id):
    stories that ended before ``since`` are no candidates unless their id is above
    ``id`` (rebuild: made by this rebuild). ``articles``: the batch just written (the
    store step), so their features need not be read back.

    On PostgreSQL with ``articles`` (the store step) the candidates come from the
    process's cache of open stories (:class:`_StoryCache`) and this is two round trips:
    the lock with every read (pipelined: each statement runs after the one before, so
    the reads see everything committed before the lock was granted), then all the
    writes (the savepoint travels with the first and the last). The cyclic garbage
    collector waits meanwhile (the profiles and features are short-lived dicts
    without cycles; see ``repository._collector_paused``)."""
    with _collector_paused():
        if articles is not None and floor is None and is_postgres(session):
            done = _cluster_cached(session, ids, articles, savepoint)  # rolls back itself
            if done is not None:
                return done
            articles = None  # reaching back too far for the cache: from the database
        if not savepoint:
            return _cluster(session, ids, floor, articles, False)
        if not is_postgres(session):
            with session.begin_nested():
                return _cluster(session, ids, floor, articles, False)
        try:
            return _cluster(session, ids, floor, articles, True)
        except Exception:
            with _pg(session).cursor() as cur:
                cur.execute("ROLLBACK TO SAVEPOINT nw_stories")
            raise


def _cluster(
    session: Session,
    ids: Sequence[str],
    floor: tuple[datetime, int] | None,
    articles: Sequence[EnrichedArticle] | None,
    savepoint: bool,
) -> ClusterResult:
    postgres = is_postgres(session)
    if savepoint:
        with _pg(session).cursor() as cur:
            cur.execute("SAVEPOINT nw_stories")
    freq = _frequencies(session)
    _lock(session)
    if articles is not None:  # SQLite: the features of the batch just written
        todo = set(_unclustered(session, ids))
        items = [i for i in _batch_items(ids, articles) if i.id in todo]
    else:
        items = load_items(session, ids)
    result = ClusterResult(skipped=len(set(ids)) - len(items))
    if not items:
        if savepoint:
            with _pg(session).cursor() as cur:
                cur.execute("RELEASE SAVEPOINT nw_stories")
        return result
    now = utcnow()
    by_key, spans = _candidates(session, items, floor)
    known = {(k, sid) for k, sids in by_key.items() for sid in sids}  # stored keys
    wanted = sorted({sid for item in items for sid in _ranked(item, by_key, spans)})
    features = sorted({k for item in items for k in _features(item)} | {""})
    missing = freq.missing(features)
    stories, reserved, df_read = _load_stories(
        session, wanted, reserve=len(items) if postgres else 0, features=missing
    )
    if missing:
        freq.learn(missing, df_read)
    _weigh(items, freq.of(features))
    new: list[_Open] = []  # started in this call, known by negative ids until flushed
    assigned: list[tuple[Item, _Open]] = []
    for item in items:
        best: _Open | None = None
        best_score = THRESHOLD
        best_sid = 0
        for sid in _ranked(item, by_key, spans):
            st = new[-sid - 1] if sid < 0 else stories.get(sid)
            if st is None:
                continue
            s = st.score(item)
            if s > best_score:
                best, best_score, best_sid = st, s, sid
        if best is None:
            best = _Open(_Row(0), {}, item.dated_at, item.dated_at)
            new.append(best)
            best_sid = -len(new)
            result.created += 1
        else:
            result.joined += 1
        best.add(item)
        spans[best_sid] = (best.first, best.last)
        for k in item.keys:
            by_key[k].add(best_sid)
        assigned.append((item, best))

    changed = [st for st in stories.values() if st.changed]
    due = freq.due()
    if postgres:
        for st, (sid, _) in zip(new, reserved, strict=False):
            st.row.id = sid
        for st, (_, version) in zip([*changed, *new], reserved, strict=False):
            st.version = version
        _write_pg(session, changed, new, assigned, now, _key_rows(assigned, known), due, savepoint)
    else:
        _write_orm(session, changed, new, assigned, now, known, due)
    freq.counted(_df_counts(assigned), due)
    result.articles = len(assigned)
    return result


def _unclustered(session: Session, ids: Sequence[str]) -> list[str]:
    if is_postgres(session):
        with _pg(session).cursor() as cur:
            cur.execute(_UNPLACED, (sorted(set(ids)),))
            return [r[0] for r in cur.fetchall() if r[1] is None]
    out: list[str] = []
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):
        out.extend(
            session.scalars(
                select(Article.id).where(
                    Article.id.in_(wanted[start : start + 500]), Article.story_id.is_(None)
                )
            )
        )
    return out


def _features(item: Item) -> list[str]:
    """The item's features as counted in ``story_terms`` (each once)."""
    return item.features


def _weigh(items: list[Item], df: dict[str, int]) -> None:
    """Weigh each feature by its inverse document frequency (smoothed: with few
    articles stored every feature weighs about the same), then normalize. ``df``
    holds every feature of the items (and "")."""
    n = df.get("", 0) + 10
    log = math.log
    idf = {k: log(n / (c + 1)) for k, c in df.items()}
    for item in items:
        item.terms = _normalized({k: v * idf["w:" + k[:100]] for k, v in item.terms.items()})
        item.entities = _normalized({k: v * idf[k] for k, v in item.entities.items()})


def _df_counts(assigned: list[tuple[Item, _Open]]) -> list[tuple[str, int]]:
    """How many of the assigned articles have each feature ("": all of them)."""
    counts = Counter(chain.from_iterable(_features(item) for item, _ in assigned))
    counts[""] = len(assigned)
    return list(counts.items())


# Ids for new stories and versions for the stories written (see Story.version),
# reserved under the lock; unused ones are gaps, as after any rollback.
_RESERVE = (
    "SELECT nextval(pg_get_serial_sequence('stories', 'id')), nextval('story_versions') "
    "FROM generate_series(1, %s)"
)


def _load_stories(
    session: Session, ids: list[int], reserve: int = 0, features: list[str] | None = None
) -> tuple[dict[int, _Open], list[tuple[int, int]], dict[str, int]]:
    """The candidate stories, the stored document frequencies of ``features`` (those
    this process does not know yet) and (PostgreSQL) ``reserve`` (id, version) pairs
    (:data:`_RESERVE`), in one round trip."""
    out: dict[int, _Open] = {}
    reserved: list[tuple[int, int]] = []
    wanted = features or []
    df: dict[str, int] = {}
    if is_postgres(session):
        conn = _pg(session)
        with (
            conn.pipeline(),
            conn.cursor() as cur,
            conn.cursor() as seq,
            conn.cursor() as freq,
        ):
            cur.execute(
                "SELECT id, title, article_id, first_seen, last_seen, profile FROM stories "
                "WHERE id = ANY(%b::int[])",
                (ids,),
            )
            if wanted:
                freq.execute(
                    "SELECT term, articles FROM story_terms WHERE term = ANY(%b::text[])", (wanted,)
                )
            if reserve:
                seq.execute(_RESERVE, (reserve,))
            rows = cur.fetchall()
            if reserve:
                reserved = [(int(r[0]), int(r[1])) for r in seq.fetchall()]
            if wanted:
                df = {t: int(n) for t, n in freq.fetchall()}
    else:
        rows = []
        for start in range(0, len(ids), 500):
            rows.extend(
                session.execute(
                    select(
                        Story.id,
                        Story.title,
                        Story.article_id,
                        Story.first_seen,
                        Story.last_seen,
                        Story.profile,
                    ).where(Story.id.in_(ids[start : start + 500]))
                ).all()
            )
        for start in range(0, len(wanted), 500):
            for t, n in session.execute(
                select(StoryTerm.term, StoryTerm.articles).where(
                    StoryTerm.term.in_(wanted[start : start + 500])
                )
            ):
                df[t] = int(n)
    for row in rows:
        out[row[0]] = _Open.of(*row)
    return out, reserved, df


def _key_rows(
    assigned: list[tuple[Item, _Open]], known: set[tuple[str, int]]
) -> list[tuple[str, int]]:
    """Keys of the assigned articles' stories, but those already stored."""
    rows = {(k, st.row.id) for item, st in assigned for k in (*item.keys, *item.filter_keys)}
    return sorted(rows - known)


_STORY_ROWS = (
    "unnest(%b::int[], %b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[], "
    "%b::int[], %b::int[], %b::float8[], %b::text[], %b::int8[]) AS t(id, title, article_id, "
    "first_seen, last_seen, article_count, source_count, growth, profile, version)"
)


def _story_arrays(stories: list[_Open]) -> list[list[Any]]:
    """The columns of these stories as arrays, in :data:`_STORY_ROWS` order (the
    profile as JSON text)."""
    columns: list[list[Any]] = [[] for _ in range(10)]
    for st in sorted(stories, key=lambda st: st.row.id):
        c = st.columns()
        for column, value in zip(
            columns,
            (
                st.row.id,
                c["title"],
                c["article_id"],
                c["first_seen"],
                c["last_seen"],
                c["article_count"],
                c["source_count"],
                c["growth"],
                json.dumps(c["profile"], ensure_ascii=False, separators=(",", ":")),
                st.version,
            ),
            strict=True,
        ):
            column.append(value)
    return columns


def _write_pg(
    session: Session,
    changed: list[_Open],
    new: list[_Open],
    assigned: list[tuple[Item, _Open]],
    now: datetime,
    keys: list[tuple[str, int]],
    due: list[tuple[str, int]],
    savepoint: bool = False,
    placing: bool = False,
) -> None:
    """Everything in one round trip: new stories (their ids and versions reserved
    before), changed stories, the articles' story_id (not when ``placing``: the
    articles are not written yet and carry it in their own INSERT), the ``keys`` not
    stored yet, the document frequencies ``due`` (and the savepoint's release)."""
    conn = _pg(session)
    # Sent in one go (pipeline mode): one round trip, not one per statement; one
    # statement per table, whatever the number of rows.
    with conn.pipeline(), conn.cursor() as cur:
        if new:
            cur.execute(
                "INSERT INTO stories (id, title, article_id, first_seen, last_seen, "
                "article_count, source_count, growth, profile, version, created_at, updated_at) "
                "SELECT t.id, t.title, t.article_id, t.first_seen, t.last_seen, t.article_count, "
                "t.source_count, t.growth, t.profile::jsonb, t.version, %s, %s "
                f"FROM {_STORY_ROWS}",
                (now, now, *_story_arrays(new)),
            )
        if changed:
            cur.execute(
                "UPDATE stories s SET title = t.title, article_id = t.article_id, "
                "first_seen = t.first_seen, last_seen = t.last_seen, "
                "article_count = t.article_count, source_count = t.source_count, "
                "growth = t.growth, profile = t.profile::jsonb, version = t.version, "
                "updated_at = %s "
                f"FROM {_STORY_ROWS} WHERE s.id = t.id",
                (now, *_story_arrays(changed)),
            )
        if not placing:
            cur.execute(
                "UPDATE articles a SET story_id = t.sid "
                "FROM unnest(%b::text[], %b::int[]) AS t(id, sid) "
                "WHERE a.id = t.id AND (a.story_id IS NULL) IS TRUE",  # by primary key: _UNPLACED
                ([i.id for i, _ in assigned], [st.row.id for _, st in assigned]),
            )
        if keys:
            cur.execute(
                "INSERT INTO story_keys (key, story_id) "
                "SELECT * FROM unnest(%b::text[], %b::int[]) ON CONFLICT DO NOTHING",
                ([k for k, _ in keys], [sid for _, sid in keys]),
            )
        if due:
            _upsert_terms_pg(cur, due)
        if savepoint:
            cur.execute("RELEASE SAVEPOINT nw_stories")


def _write_orm(
    session: Session,
    changed: list[_Open],
    new: list[_Open],
    assigned: list[tuple[Item, _Open]],
    now: datetime,
    known: set[tuple[str, int]],
    due: list[tuple[str, int]],
) -> None:
    stories = cast(Table, Story.__table__)
    if new:
        ids: list[int] = list(
            session.execute(
                stories.insert().returning(stories.c.id, sort_by_parameter_order=True),
                [{**st.columns(), "created_at": now, "updated_at": now} for st in new],
            ).scalars()
        )
        for st, sid in zip(new, ids, strict=True):
            st.row.id = sid
    if changed:
        session.execute(
            stories.update()
            .where(stories.c.id == bindparam("sid"))
            .values({c: bindparam(c) for c in (*_Open.COLUMNS, "updated_at")}),
            [{**st.columns(), "sid": st.row.id, "updated_at": now} for st in changed],
        )
    table = cast(Table, Article.__table__)
    session.execute(
        table.update()
        .where(table.c.id == bindparam("aid"), table.c.story_id.is_(None))
        .values(story_id=bindparam("sid")),
        [{"aid": item.id, "sid": st.row.id} for item, st in assigned],
    )

    keys = _key_rows(assigned, known)
    for start in range(0, len(keys), 400):
        chunk = [{"key": k, "story_id": sid} for k, sid in keys[start : start + 400]]
        session.execute(sqlite_insert(StoryKey).values(chunk).on_conflict_do_nothing())
    if due:
        _upsert_terms_orm(session, due)


# ---------------------------------------------------------------- the open stories in memory

# A store worker keeps the stories whose last article is within CACHE_SPAN of its
# newest batch in memory (see :class:`_StoryCache`); a batch reaching back further
# than CACHE_REACH before that is placed from the database instead.
CACHE_SPAN = timedelta(days=4)
CACHE_REACH = timedelta(days=10)
CHANGES_LIMIT = 2000  # stories changed elsewhere read per batch; more: load afresh


class _StoryCache:
    """The open stories of one database as this process last saw them: profiles,
    spans and keys, so the store step neither reads candidate stories nor looks up
    keys in the database for every batch.

    The cache is an optimisation, never the truth. Every batch refreshes it under the
    advisory lock, in the same round trip that takes the lock: the stories written
    since the highest version it has seen (``Story.version``: every write of a story
    takes the next value of ``story_versions`` under the lock, so versions commit in
    order and nothing committed can be missed), with their keys. Its own writes are
    marked pending until the session's transaction commits (a rollback, a failure
    half-way or a commit that cannot be confirmed empties it); a rebuild (the
    ``story_resets`` sequence) or another database under the same URL empties it too.
    An emptied cache loads the window of the next batch from the database."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.clear()

    def clear(self) -> None:
        self.horizon: datetime | None = None  # every story with last_seen >= it is here
        self.watermark = 0  # the highest committed version seen
        self.mark: tuple[int, int] | None = None  # (database oid, story_resets) when loaded
        self.stories: dict[int, _Open] = {}
        self.keys: dict[int, set[str]] = {}  # all its story_keys rows
        self.by_key: dict[str, set[int]] = {}  # lookup keys (no c:/r: filter keys)
        self.spans: Spans = {}
        self.own: set[int] = set()  # versions written here, above the watermark
        self.pending: tuple[Session, Any] | None = None  # the transaction not yet committed

    def put(self, st: _Open, keys: Iterable[str]) -> None:
        sid = st.row.id
        self.drop(sid)
        self.stories[sid] = st
        self.spans[sid] = (st.first, st.last)
        self.keys[sid] = set()
        self.add_keys(sid, keys)

    def add_keys(self, sid: int, keys: Iterable[str]) -> None:
        mine, by_key = self.keys[sid], self.by_key
        for k in keys:
            if k not in mine:
                mine.add(k)
                if not k.startswith(("c:", "r:")):
                    sids = by_key.get(k)
                    if sids is None:
                        by_key[k] = {sid}
                    else:
                        sids.add(sid)

    def drop(self, sid: int) -> None:
        if self.stories.pop(sid, None) is None:
            return
        del self.spans[sid]
        by_key = self.by_key
        for k in self.keys.pop(sid):
            sids = by_key.get(k)
            if sids is not None:
                sids.discard(sid)
                if not sids:
                    del by_key[k]

    def evict(self, newest: datetime) -> None:
        """Forget the stories that ended long before ``newest`` (a batch's date)."""
        if self.horizon is None or newest - self.horizon < 2 * CACHE_SPAN:
            return
        horizon = newest - CACHE_SPAN
        for sid, st in list(self.stories.items()):
            if st.last < horizon:
                self.drop(sid)
        self.horizon = horizon


_CACHES = threading.local()


def _cache(session: Session) -> _StoryCache:
    """This thread's cache of the session's database: one per worker process (prefork
    pool), or per thread where threads store batches (each behaves as a worker of its
    own, so none waits for another's cache)."""
    key = str(session.get_bind().engine.url)
    caches: dict[str, _StoryCache] | None = getattr(_CACHES, "by_url", None)
    if caches is None:
        caches = _CACHES.by_url = {}
    cache = caches.get(key)
    if cache is None or cache.pid != os.getpid():  # a forked child starts empty
        cache = caches[key] = _StoryCache()
    return cache


def _watch(session: Session, cache: _StoryCache) -> None:
    """Confirm the cache's pending writes when the session commits; empty the cache
    when it rolls back."""
    if session.info.get("nw_story_cache") is cache:
        return
    session.info["nw_story_cache"] = cache

    def committed(s: Session) -> None:
        if cache.pending is not None and cache.pending[0] is s:
            cache.pending = None

    def rolled_back(s: Session) -> None:
        if cache.pending is not None and cache.pending[0] is s:
            cache.clear()

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_rollback", rolled_back)


_STORY_COLUMNS = "s.id, s.title, s.article_id, s.first_seen, s.last_seen, s.version"
_MARK = (
    "SELECT (SELECT oid::int8 FROM pg_database WHERE datname = current_database()), "
    "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM story_resets)"
)


def _window_sql(cold: bool) -> tuple[str, str]:
    """Stories (with profiles) and their keys whose last article is dated from the
    first parameter on (and before the second, when not ``cold``)."""
    where = "s.last_seen >= %s" + ("" if cold else " AND s.last_seen < %s")
    return (
        f"SELECT {_STORY_COLUMNS}, s.profile FROM stories s WHERE {where}",
        "SELECT story_id, key FROM story_keys WHERE story_id = ANY(ARRAY("
        f"SELECT s.id FROM stories s WHERE {where}))",
    )


@dataclass
class _Prefetched:
    todo: set[str]
    reserved: list[tuple[int, int]]
    df: dict[str, int]
    mark: tuple[int, int]
    rows: list[Any]  # stories read: window first, then changes
    keys: dict[int, list[str]]
    top: int | None  # the highest version stored (cold load)
    overflow: bool = False  # more changes than CHANGES_LIMIT: load afresh


def _lock_and_prefetch(
    session: Session,
    cache: _StoryCache,
    items: list[Item],
    savepoint: bool,
    missing: list[str],
    lo: datetime | None,
    incoming: dict[str, datetime] | None = None,
) -> _Prefetched:
    """PostgreSQL, one round trip (pipelined: each statement runs after the one
    before, so the reads see everything committed before the lock was granted): the
    savepoint and the lock, the articles still without a story, ids and versions for
    the writes, the database's mark, the stories changed since the cache's watermark
    (without the profiles of its own writes), the stories of the window from ``lo``
    when the cache does not hold it yet, and the stored document frequencies of the
    ``missing`` features.

    ``todo`` is the items still to place: with ``incoming`` (the enrichment time of
    each item's copy, before the articles are written: :func:`place_batch`) those not
    stored yet, or stored without a story and not newer than the incoming copy (the
    upsert's own condition, so the copy will be written); otherwise those stored
    without a story."""
    conn = _pg(session)
    cold = cache.horizon is None
    cursors: dict[str, Any] = {}

    def run(name: str, sql: str, params: Sequence[Any] = ()) -> None:
        cur = cursors[name] = conn.cursor()
        cur.execute(sql, params)

    with conn.pipeline():
        lock = conn.cursor()
        if savepoint:
            lock.execute("SAVEPOINT nw_stories")
        lock.execute(LOCK_SQL, (ADVISORY_LOCK,))
        if items:
            run("todo", _UNPLACED, (sorted(i.id for i in items),))
            run("reserve", _RESERVE, (len(items),))
        run("mark", _MARK)
        if not cold:
            own = sorted(cache.own)
            # Shaped for the indexes whatever the statistics say (a new column, a
            # table not analyzed yet: a sequential scan of story_keys took 0.4 s).
            run(
                "changed",
                f"SELECT {_STORY_COLUMNS}, CASE WHEN s.version = ANY(%b::int8[]) THEN NULL "
                "ELSE s.profile END FROM stories s WHERE s.version > %s "
                f"ORDER BY s.version LIMIT {CHANGES_LIMIT}",
                (own, cache.watermark),
            )
            run(
                "changed_keys",
                "SELECT story_id, key FROM story_keys WHERE story_id = ANY(ARRAY("
                "SELECT id FROM stories WHERE version > %s AND NOT version = ANY(%b::int8[]) "
                f"ORDER BY version LIMIT {CHANGES_LIMIT}))",
                (cache.watermark, own),
            )
        if lo is not None:
            stories_sql, keys_sql = _window_sql(cold)
            params = (lo,) if cold else (lo, cache.horizon)
            run("window", stories_sql, params)
            run("window_keys", keys_sql, params)
            if cold:
                run("top", "SELECT coalesce(max(version), 0) FROM stories")
        if missing:
            run(
                "freq",
                "SELECT term, articles FROM story_terms WHERE term = ANY(%b::text[])",
                (missing,),
            )
    lock.close()
    out: dict[str, list[Any]] = {}
    for name, cur in cursors.items():
        out[name] = cur.fetchall()
        cur.close()
    keys: dict[int, list[str]] = defaultdict(list)
    for sid, key in (*out.get("window_keys", ()), *out.get("changed_keys", ())):
        keys[sid].append(key)
    oid, resets = out["mark"][0]
    stored = out.get("todo", [])
    if incoming is None:
        todo = {r[0] for r in stored if r[1] is None}
    else:
        held = {
            aid for aid, sid, when in stored if sid is not None or not _fresh(incoming[aid], when)
        }
        todo = set(incoming) - held
    return _Prefetched(
        todo=todo,
        reserved=[(int(a), int(b)) for a, b in out.get("reserve", ())],
        df={t: int(n) for t, n in out.get("freq", ())},
        mark=(int(oid), int(resets)),
        rows=[*out.get("window", ()), *out.get("changed", ())],
        keys=keys,
        top=int(out["top"][0][0]) if "top" in out else None,
        overflow=len(out.get("changed", ())) >= CHANGES_LIMIT,
    )


def _fresh(incoming: datetime | None, stored: datetime | None) -> bool:
    """Whether the upsert writes an incoming copy over the stored one (its ``WHERE``:
    ``repository._upsert_postgres``)."""
    return stored is None or incoming is None or _aware(incoming) >= _aware(stored)


def _refresh(cache: _StoryCache, pre: _Prefetched, lo: datetime | None) -> None:
    """Bring what was read into the cache (see :func:`_lock_and_prefetch`)."""
    if lo is not None:
        cache.horizon = lo
    if pre.top is not None:
        cache.watermark = pre.top
        cache.mark = pre.mark
    horizon = cache.horizon
    assert horizon is not None
    watermark = cache.watermark
    for sid, title, article_id, first, last, version, profile in pre.rows:
        watermark = max(watermark, version)
        if profile is None:  # this process's own write, now committed: already here
            continue
        if _aware(last) >= horizon:
            cache.put(
                _Open.of(sid, title, article_id, first, last, profile, version), pre.keys[sid]
            )
        else:
            cache.drop(sid)
    cache.watermark = watermark
    cache.own = {v for v in cache.own if v > watermark}


def _newest(ids: Sequence[str], articles: Sequence[EnrichedArticle]) -> list[EnrichedArticle]:
    """The batch's articles among ``ids``, the newest enrichment of each (as
    upsert_batch keeps)."""
    wanted_ids = set(ids)
    newest: dict[str, EnrichedArticle] = {}
    for a in articles:
        old = newest.get(a.id)
        if a.id in wanted_ids and (
            old is None or a.enrichment.enriched_at >= old.enrichment.enriched_at
        ):
            newest[a.id] = a
    return list(newest.values())


def _batch_items(ids: Sequence[str], articles: Sequence[EnrichedArticle]) -> list[Item]:
    """Features of :func:`_newest`, in (date, id) order."""
    return _sorted_items(_newest(ids, articles))


def _sorted_items(articles: Iterable[EnrichedArticle]) -> list[Item]:
    return sorted((item_of(a) for a in articles), key=lambda i: (i.dated_at, i.id))


def _cluster_cached(
    session: Session,
    ids: Sequence[str],
    articles: Sequence[EnrichedArticle],
    savepoint: bool,
    placing: bool = False,
) -> ClusterResult | None:
    """The store step's clustering on PostgreSQL, against the cache of open stories:
    two round trips (lock and reads; writes). None when the batch reaches too far back
    for the cache (the caller places it from the database). ``placing``: before the
    articles are written (:func:`place_batch`)."""
    newest = _newest(ids, articles)
    items = _sorted_items(newest)
    if not items:
        return ClusterResult(skipped=len(set(ids)))
    incoming = {a.id: a.enrichment.enriched_at for a in newest} if placing else None
    cache = _cache(session)
    token = (session, session.get_transaction())
    if cache.pending is not None and cache.pending != token:
        cache.clear()  # a write whose commit was never confirmed
    try:
        return _place_cached(session, cache, items, len(set(ids)), savepoint, token, incoming)
    except BaseException:
        cache.clear()
        raise


def place_batch(session: Session, articles: Sequence[EnrichedArticle]) -> ClusterResult | None:
    """Stories for a batch about to be written (PostgreSQL, in the store step's
    transaction, before the articles' INSERT): the stories are written now and each
    placed article's story id (``ClusterResult.placed``) goes into its own row, so
    the articles are written once, not inserted and then updated.

    The articles placed are those not stored yet, or stored without a story and about
    to be overwritten (see :func:`_lock_and_prefetch`); the advisory lock, held until
    the transaction ends, keeps any other writer from storing them meanwhile. None
    when this does not apply (not PostgreSQL, or a batch reaching further back than
    the cache: the caller clusters the written articles afterwards, from the
    database). A failure before the story writes rolls the savepoint back and
    raises: nothing of the clustering stays, the caller's transaction goes on (its
    articles without a story, for the sweep). Once the stories are written the
    placement stands, whatever fails after (the worker's cache is then dropped)."""
    if not articles or not is_postgres(session):
        return None
    with _collector_paused():
        return _cluster_cached(session, [a.id for a in articles], articles, True, placing=True)


def _place_cached(
    session: Session,
    cache: _StoryCache,
    items: list[Item],
    wanted: int,
    savepoint: bool,
    token: tuple[Session, Any],
    incoming: dict[str, datetime] | None = None,
) -> ClusterResult | None:
    lo: datetime | None = items[0].dated_at - WINDOW
    if cache.horizon is not None:
        if lo < cache.horizon - CACHE_REACH:  # type: ignore[operator]
            return None
        if lo >= cache.horizon:  # type: ignore[operator]
            lo = None  # the cache holds the window already
    freq = _frequencies(session)
    features = sorted({k for item in items for k in _features(item)} | {""})
    missing = freq.missing(features)
    placing = incoming is not None
    # Up to the story writes: a failure takes back all of it (the savepoint is the
    # first statement of _lock_and_prefetch and the last of _write_pg).
    try:
        pre = _lock_and_prefetch(session, cache, items, savepoint, missing, lo, incoming)
        freq.learn(missing, pre.df)
        if pre.overflow or (cache.mark is not None and pre.mark != cache.mark):
            # rebuilt, another database, or more written elsewhere than is worth reading
            cache.clear()
            lo = items[0].dated_at - WINDOW
            again = _lock_and_prefetch(session, cache, [], False, [], lo)  # still under the lock
            pre.rows, pre.keys, pre.top, pre.mark = again.rows, again.keys, again.top, again.mark
        _refresh(cache, pre, lo)
        items = [i for i in items if i.id in pre.todo]
        result = ClusterResult(skipped=wanted - len(items))
        if not items:
            if savepoint:
                with _pg(session).cursor() as cur:
                    cur.execute("RELEASE SAVEPOINT nw_stories")
            return result
        _weigh(items, freq.of(features))
        new, changed, assigned = _assign(cache, items, pre.reserved, result)
        keys: list[tuple[str, int]] = []
        for item, st in assigned:
            sid = st.row.id
            have = cache.keys[sid]
            for k in (*item.keys, *item.filter_keys):
                if k not in have:
                    keys.append((k, sid))
            cache.add_keys(sid, (*item.keys, *item.filter_keys))
        due = freq.due()
        _write_pg(
            session, changed, new, assigned, utcnow(), sorted(set(keys)), due, savepoint, placing
        )
    except BaseException:
        if savepoint:
            with _pg(session).cursor() as cur:
                cur.execute("ROLLBACK TO SAVEPOINT nw_stories")
        raise
    result.articles = len(assigned)
    if placing:
        result.placed = {item.id: st.row.id for item, st in assigned}
    # The stories are written in the caller's transaction: the articles must go with
    # them (placed), whatever becomes of this process's bookkeeping; if that fails the
    # cache is emptied (the next batch loads the window afresh).
    try:
        for st in (*changed, *new):
            st.changed = False
            cache.own.add(st.version)
        cache.pending = token
        _watch(session, cache)
        freq.counted(_df_counts(assigned), due)
        cache.evict(items[len(items) // 2].dated_at)
    except Exception as exc:  # noqa: BLE001 - logged; the stories stand
        cache.clear()
        log.warning("story_cache_dropped", error=repr(exc)[:300])
    return result


def _assign(
    cache: _StoryCache,
    items: list[Item],
    reserved: list[tuple[int, int]],
    result: ClusterResult,
) -> tuple[list[_Open], list[_Open], list[tuple[Item, _Open]]]:
    """Place each item (in date order) into the best-scoring story of the cache, or a
    new one with the next ``reserved`` id; the cache is updated as it goes, and the
    new and changed stories take the ``reserved`` versions. Returns (new stories,
    changed stories, (item, story) pairs); ``result`` counts joined and created."""
    stories, spans, by_key = cache.stories, cache.spans, cache.by_key
    new: list[_Open] = []
    touched: dict[int, _Open] = {}
    assigned: list[tuple[Item, _Open]] = []
    for group in _date_groups(items):
        window = (group[0].dated_at - WINDOW, group[-1].dated_at + WINDOW)
        memo: dict[str, set[int] | None] = {}
        for item in group:
            best: _Open | None = None
            best_score = THRESHOLD
            for sid in _ranked(item, by_key, spans, window, memo):
                s = stories[sid].score(item)
                if s > best_score:
                    best, best_score = stories[sid], s
            if best is None:
                best = _Open(_Row(reserved[len(new)][0]), {}, item.dated_at, item.dated_at)
                new.append(best)
                cache.put(best, ())
                result.created += 1
            else:
                touched[best.row.id] = best
                result.joined += 1
            best.add(item)
            sid = best.row.id
            spans[sid] = (best.first, best.last)
            for k in item.keys:
                sids = by_key.get(k)
                if sids is None:
                    by_key[k] = {sid}
                else:
                    sids.add(sid)
                if k in memo:
                    m = memo[k]
                    if m is not None:
                        m.add(sid)
                        if len(m) > MAX_KEY_STORIES:
                            memo[k] = None
            assigned.append((item, best))
    new_ids = {st.row.id for st in new}
    changed = [st for sid, st in touched.items() if sid not in new_ids]
    for st, (_, version) in zip([*changed, *new], reserved, strict=False):
        st.version = version
    return new, changed, assigned


# ---------------------------------------------------------------- backlog, rebuild


def backlog(session: Session, since: datetime | None = None) -> int:
    """Stored articles not yet in a story."""
    stmt = select(func.count()).select_from(Article).where(Article.story_id.is_(None))
    if since is not None:
        stmt = stmt.where(Article.dated_at >= since)
    return int(session.scalar(stmt) or 0)


def _unclustered_ids(session: Session, limit: int, since: datetime | None) -> list[str]:
    stmt = select(Article.id).where(Article.story_id.is_(None))
    if since is not None:
        stmt = stmt.where(Article.dated_at >= since)
    return list(session.scalars(stmt.order_by(Article.dated_at, Article.id).limit(limit)))


def cluster_backlog(
    url: str | None = None,
    *,
    batch: int = 500,
    since: datetime | None = None,
    floor: tuple[datetime, int] | None = None,
    budget_s: float | None = None,
    progress: Callable[[int], object] | None = None,
) -> ClusterResult:
    """Cluster unclustered articles (dated ``since`` or later) oldest first, ``batch`` per
    transaction, until none is left (or ``budget_s`` seconds have passed)."""
    started = time.monotonic()
    total = ClusterResult()
    while budget_s is None or time.monotonic() - started < budget_s:
        with session_scope(url) as session:
            _lock(session)
            ids = _unclustered_ids(session, batch, since)
            if not ids:
                break
            done = cluster_articles(session, ids, floor=floor)
        total += done
        if progress is not None:
            progress(done.articles)
        if len(ids) < batch:
            break
    with session_scope(url) as session:  # the counts of this run, not left in memory
        write_frequencies(session)
    return total


def reset(session: Session, since: datetime | None = None) -> tuple[int, datetime | None, int]:
    """Dissolve the stories that reach ``since`` or later (all without ``since``): their
    articles go back to the backlog. Returns (stories dissolved, the earliest date of an
    article set free, from which to re-cluster; the highest story id left)."""
    _lock(session)
    if is_postgres(session):  # the workers' caches of open stories are emptied
        session.execute(text("SELECT nextval('story_resets')"))
    stmt = select(Story.id, Story.first_seen)
    if since is not None:
        stmt = stmt.where(Story.last_seen >= since)
    rows = session.execute(stmt).all()
    ids = [r[0] for r in rows]
    earliest = min((_aware(r[1]) for r in rows), default=None)
    freed: list[str] = []
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        freed.extend(session.scalars(select(Article.id).where(Article.story_id.in_(part))))
        session.execute(
            update(Article)
            .where(Article.story_id.in_(part))
            .values(story_id=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(delete(StoryKey).where(StoryKey.story_id.in_(part)))
        session.execute(delete(Story).where(Story.id.in_(part)))
    freq = _frequencies(session)
    if since is not None:  # what this process counted is stored before it is taken out
        write_frequencies(session)
    _uncount(session, freed, everything=since is None)
    freq.forget(pending=since is None)
    if since is not None:
        earliest = min(earliest or since, since)
    kept = int(session.scalar(select(func.max(Story.id))) or 0)
    return len(ids), earliest, kept


def _uncount(session: Session, freed: list[str], everything: bool) -> None:
    """Take articles set free out of the document frequencies (they are counted again
    when they are placed)."""
    if everything:
        session.execute(delete(StoryTerm))
        return
    counts: dict[str, int] = defaultdict(int)
    for start in range(0, len(freed), 500):
        items = load_items(session, freed[start : start + 500])
        for item in items:
            for k in _features(item):
                counts[k] += 1
        counts[""] += len(items)
    for term, n in sorted(counts.items()):
        session.execute(
            update(StoryTerm)
            .where(StoryTerm.term == term)
            .values(articles=StoryTerm.articles - n)
            .execution_options(synchronize_session=False)
        )


def rebuild(
    url: str | None = None,
    *,
    since: datetime | None = None,
    batch: int = 500,
    progress: Callable[[int], object] | None = None,
    on_reset: Callable[[int, int], object] | None = None,
) -> ClusterResult:
    """Recompute the stories from ``since`` on (everything without it): dissolve the
    stories whose last article is dated ``since`` or later, then cluster their articles
    again in date order, against the new stories only (a story that ended before
    ``since`` is left as it is and takes no new article), so running it twice gives the
    same grouping (with new ids). ``on_reset(stories, articles)`` is told the size of
    the job before the clustering starts."""
    with session_scope(url) as session:
        dissolved, earliest, kept = reset(session, since)
        todo = backlog(session, earliest)
    if on_reset is not None:
        on_reset(dissolved, todo)
    log.info("stories_reset", stories=dissolved, articles=todo)
    floor = (since, kept) if since is not None else None
    return cluster_backlog(url, batch=batch, since=earliest, floor=floor, progress=progress)
