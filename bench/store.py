"""Store benchmark: upsert throughput into PostgreSQL and API query latency.

    python bench/store.py                     # 100,000 articles (about two minutes)
    python bench/store.py --articles 20000    # quicker

Creates and drops its own PostgreSQL database (NEWSWIRE_TEST_PG, default
postgresql://postgres@127.0.0.1:5432/postgres). Prints:

1. articles upserted per second for batches of 1, 100 and 1000 (new articles: the
   transaction that writes articles, tags and ingest records), and for re-storing a
   batch of 1000 (redelivery / re-enrichment: tags replaced);
2. full-text documents built per second (the store step's second transaction), and
   the whole store step (both transactions) per second for batches of 1000;
3. p50/p95 latency of the main API queries (in-process through the FastAPI app,
   JSON included) over a corpus of --articles generated articles, each with about 10
   entity mentions (Zipf-distributed over 20,000 entities) and 3 countries.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from services.store.repository import upsert_batch  # noqa: E402
from services.store.tasks import index_pending, store_batch  # noqa: E402
from shared import db, migrate  # noqa: E402
from shared.schemas import EnrichedArticle  # noqa: E402
from testkit.databases import create_pg_database, drop_pg_database  # noqa: E402
from testkit.factories import country, enriched, entity, region  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)

COUNTRIES = [
    ("US", "United States", "021", "Northern America", None),
    ("CN", "China", "030", "Eastern Asia", None),
    ("RU", "Russia", "151", "Eastern Europe", None),
    ("UA", "Ukraine", "151", "Eastern Europe", None),
    ("IL", "Israel", "145", "Western Asia", "middle-east"),
    ("PS", "Palestine", "145", "Western Asia", "middle-east"),
    ("IR", "Iran", "034", "Southern Asia", "middle-east"),
    ("IQ", "Iraq", "145", "Western Asia", "middle-east"),
    ("TR", "Turkey", "145", "Western Asia", "middle-east"),
    ("LB", "Lebanon", "145", "Western Asia", "middle-east"),
    ("SY", "Syria", "145", "Western Asia", "middle-east"),
    ("SA", "Saudi Arabia", "145", "Western Asia", "middle-east"),
    ("EG", "Egypt", "015", "Northern Africa", "middle-east"),
    ("GB", "United Kingdom", "154", "Northern Europe", None),
    ("FR", "France", "155", "Western Europe", None),
    ("DE", "Germany", "155", "Western Europe", None),
    ("IN", "India", "034", "Southern Asia", None),
    ("PK", "Pakistan", "034", "Southern Asia", None),
    ("JP", "Japan", "030", "Eastern Asia", None),
    ("KR", "South Korea", "030", "Eastern Asia", None),
    ("BR", "Brazil", "005", "South America", None),
    ("AR", "Argentina", "005", "South America", None),
    ("MX", "Mexico", "013", "Central America", None),
    ("NG", "Nigeria", "011", "Western Africa", None),
    ("KE", "Kenya", "014", "Eastern Africa", None),
    ("ZA", "South Africa", "018", "Southern Africa", None),
    ("AU", "Australia", "053", "Australia and New Zealand", None),
    ("CA", "Canada", "021", "Northern America", None),
    ("IT", "Italy", "039", "Southern Europe", None),
    ("ES", "Spain", "039", "Southern Europe", None),
    ("PL", "Poland", "151", "Eastern Europe", None),
    ("GE", "Georgia", "145", "Western Asia", None),
    ("AF", "Afghanistan", "034", "Southern Asia", None),
    ("ET", "Ethiopia", "014", "Eastern Africa", None),
    ("VE", "Venezuela", "005", "South America", None),
    ("CO", "Colombia", "005", "South America", None),
    ("ID", "Indonesia", "035", "South-eastern Asia", None),
    ("PH", "Philippines", "035", "South-eastern Asia", None),
    ("VN", "Viet Nam", "035", "South-eastern Asia", None),
    ("TH", "Thailand", "035", "South-eastern Asia", None),
]
LABELS = ["PERSON", "ORG", "GPE", "NORP", "LOC"]
SOURCES = [f"Source {i}" for i in range(60)]


class Generator:
    def __init__(self, seed: int = 1, entities: int = 20_000, words: int = 5_000) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.vocab = [
            "".join(rng.choices("abcdefghijklmnoprstuvwy", k=rng.randint(3, 10)))
            for _ in range(words)
        ]
        self.word_weights = list(accumulate(1 / (i + 1) for i in range(words)))
        self.entities = [
            (f"Entity {i} {rng.choice(self.vocab).title()}", LABELS[i % 5]) for i in range(entities)
        ]
        # Cumulative weights (Zipf-like): rng.choices stays O(log n) per draw.
        self.entity_weights = list(accumulate(1 / (i + 1) ** 0.9 for i in range(entities)))
        self.country_weights = list(accumulate(1 / (i + 1) ** 0.8 for i in range(len(COUNTRIES))))
        self.n = 0

    def article(self, enriched_at: datetime | None = None) -> EnrichedArticle:
        rng = self.rng
        self.n += 1
        aid = f"{self.n:08d}{rng.getrandbits(64):016x}"
        ents: dict[tuple[str, str], int] = {}
        while len(ents) < 10:
            for e in rng.choices(self.entities, cum_weights=self.entity_weights, k=10):
                if len(ents) < 10:
                    ents[e] = rng.randint(1, 5)
        countries: dict[int, bool] = {}
        while len(countries) < 3:
            countries[rng.choices(range(len(COUNTRIES)), cum_weights=self.country_weights)[0]] = (
                len(countries) == 0
            )
        regions: dict[tuple[str, str], str] = {}
        for i in countries:
            _, _, m49, m49_name, group = COUNTRIES[i]
            regions[("m49", m49)] = m49_name
            if group:
                regions[("group", group)] = "Middle East"
        body = " ".join(rng.choices(self.vocab, cum_weights=self.word_weights, k=300))
        published = NOW - timedelta(seconds=rng.randint(0, 90 * 86400))
        return enriched(
            aid,
            body,
            source=rng.choice(SOURCES),
            title=" ".join(rng.choices(self.vocab, k=8)).capitalize(),
            published_at=published,
            ingested_at=published + timedelta(minutes=5),
            language="en",
            trace_id=aid,
            entities=[entity(n, lab, c, spans=[[0, 5]]) for (n, lab), c in ents.items()],
            countries=[
                country(*COUNTRIES[i][:2], mentions=1 + (i % 3), via=["gazetteer"], focus=focus)
                for i, focus in countries.items()
            ],
            regions=[region(s, c, name) for (s, c), name in regions.items()],
            tagger="bench",
            tagger_version="1",
            enriched_at=enriched_at or NOW,
        )

    def batch(self, size: int) -> list[EnrichedArticle]:
        return [self.article() for _ in range(size)]


def create_database() -> str:
    """An empty database of the bench's own (NEWSWIRE_TEST_PG's server)."""
    return create_pg_database("nw_bench")


drop_database = drop_pg_database


def timed_upserts(url: str, batches: list[list[EnrichedArticle]], method: str = "copy") -> float:
    """Seconds spent upserting and committing (generation excluded)."""
    spent = 0.0
    for batch in batches:
        started = time.perf_counter()
        with db.session_scope(url) as session:
            upsert_batch(session, batch, method=method)
        spent += time.perf_counter() - started
    return spent


def throughput(url: str, gen: Generator, size: int, total: int) -> tuple[float, float, int]:
    """(articles upserted per second, search documents built per second, articles)."""
    batches = [gen.batch(size) for _ in range(max(1, total // size))]
    n = sum(len(b) for b in batches)
    upserted = n / timed_upserts(url, batches)
    started = time.perf_counter()
    indexed = index_pending(url, batch=1000, budget_s=None)
    return upserted, indexed / (time.perf_counter() - started), n


def timed_store_steps(url: str, batches: list[list[EnrichedArticle]]) -> float:
    """Seconds spent in the whole store step (upsert, then search documents)."""
    started = time.perf_counter()
    for batch in batches:
        store_batch(batch, url)
    return time.perf_counter() - started


def side_by_side(
    url: str, gen: Generator, rounds: int = 4, methods: tuple[str, ...] = ("copy", "values")
) -> dict[str, float]:
    """COPY path vs multi-row VALUES path, batches of 1000, interleaved (same noise)."""
    spent = dict.fromkeys(methods, 0.0)
    for _ in range(rounds):
        for method in spent:
            spent[method] += timed_upserts(url, [gen.batch(1000)], method)
    return {m: rounds * 1000 / t for m, t in spent.items()}


def parallel_store_steps(url: str, per_writer: list[list[list[EnrichedArticle]]]) -> float:
    """Wall seconds for several store workers (threads here: the time is spent in
    PostgreSQL) each running the whole store step over their own batches."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    with ThreadPoolExecutor(len(per_writer)) as pool:
        list(pool.map(lambda batches: timed_store_steps(url, batches), per_writer))
    return time.perf_counter() - started


def load(url: str, gen: Generator, target: int, size: int = 1000) -> tuple[float, float]:
    """Fill the database up to ``target`` articles with the whole store step (searchable
    when done); returns (articles/s, wall seconds)."""
    with db.session_scope(url) as s:
        have = int(s.execute(sa.text("SELECT count(*) FROM articles")).scalar() or 0)
    spent, started, done = 0.0, time.perf_counter(), 0
    while have + done < target:
        batch = gen.batch(min(size, target - have - done))
        spent += timed_store_steps(url, [batch])
        done += len(batch)
        if done % 20_000 < size:
            print(f"  loaded {have + done:,} articles", file=sys.stderr, flush=True)
    return (done / spent if spent else 0.0), time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def latency(call: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    call()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50), percentile(times, 95), max(times)


def cycle(values: list[Any]) -> Iterator[Any]:
    while True:
        yield from values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000, help="corpus size for queries")
    parser.add_argument("--runs", type=int, default=60, help="requests per query kind")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--database",
        default=None,
        help="reuse a database kept by --keep: skip the write figures, query it as it is",
    )
    args = parser.parse_args()

    os.environ.setdefault("NEWSWIRE_LOG_LEVEL", "WARNING")
    from shared.logging import configure_logging

    configure_logging("console", "WARNING")
    url = args.database or create_database()
    print(f"database {url.rsplit('/', 1)[1]} (PostgreSQL)")
    try:
        migrate.upgrade(url)
    except BaseException:
        if not args.database:
            drop_database(url)
        raise
    try:
        if not args.database:
            write_figures(url, args)
        query_figures(url, args)
    finally:
        if args.keep or args.database:
            print(f"kept {url}")
        else:
            drop_database(url)


def write_figures(url: str, args: argparse.Namespace) -> None:
    gen = Generator()
    print(
        "\nupsert throughput (new articles, ~10 mentions + 3 countries each, one "
        "transaction per batch; search documents built after, in their own):"
    )
    for size, total in ((1, 300), (100, 3_000), (1000, 10_000)):
        rate, indexed, n = throughput(url, gen, size, total)
        print(
            f"  batch {size:>5}: {rate:>8,.0f} articles/s   ({n:,} articles; their search "
            f"documents then built at {indexed:,.0f}/s)"
        )
    rates = side_by_side(url, gen)
    index_pending(url, budget_s=None)
    print(
        f"  batch  1000, side by side: COPY {rates['copy']:,.0f} articles/s, "
        f"INSERT ... VALUES {rates['values']:,.0f} articles/s "
        f"(x{rates['copy'] / rates['values']:.2f})"
    )
    steps = [gen.batch(1000) for _ in range(5)]
    print(
        "  whole store step, batch 1000 (upsert, then search documents): "
        f"{5000 / timed_store_steps(url, steps):>8,.0f} articles/s"
    )
    for writers in (2, 4):
        parallel = [[gen.batch(1000) for _ in range(2)] for _ in range(writers)]
        print(
            f"  whole store step, {writers} writers in parallel: "
            f"{2000 * writers / parallel_store_steps(url, parallel):>8,.0f} articles/s"
        )
    again = [gen.batch(1000) for _ in range(3)]
    timed_upserts(url, again)
    later = datetime.now(UTC) + timedelta(minutes=1)
    for b in again:
        for a in b:
            a.enrichment.enriched_at = later
    spent = timed_upserts(url, again)
    index_pending(url, budget_s=None)
    print(f"  re-store batch 1000 (tags replaced): {3000 / spent:>8,.0f} articles/s")

    rate, wall = load(url, gen, args.articles)
    print(
        f"\nloaded up to {args.articles:,} articles at {rate:,.0f} articles/s "
        "(whole store step, batches of 1000)"
    )


def query_figures(url: str, args: argparse.Namespace) -> None:
    gen = Generator()  # same seed: the same entity and word lists as the load
    with db.session_scope(url) as s:
        s.execute(sa.text("ANALYZE"))
        stats = {
            t: int(s.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() or 0)
            for t in ("articles", "entities", "article_entities", "article_countries")
        }
    print(
        f"\ncorpus: {stats['articles']:,} articles, {stats['entities']:,} entities, "
        f"{stats['article_entities']:,} mentions, {stats['article_countries']:,} "
        "article-countries"
    )

    from testkit.api import make_client  # imports the whole API app: only this part needs it

    client = make_client(url)
    rng = random.Random(7)
    # What users ask for: entities and countries drawn by popularity (Zipf), so
    # some are in a third of the corpus and some in a handful of articles.
    ents = [e[0] for e in rng.choices(gen.entities, cum_weights=gen.entity_weights, k=40)]
    top_ents = [gen.entities[i][0] for i in range(3)]
    rare_ents = [gen.entities[i][0] for i in range(5000, 5040)]
    ctry = [c[0] for c in rng.choices(COUNTRIES, cum_weights=gen.country_weights, k=40)]
    words = [gen.vocab[i] for i in range(50, 90)]
    since = (NOW - timedelta(days=7)).isoformat()
    month = (NOW - timedelta(days=30)).isoformat()
    day = (NOW - timedelta(days=1)).isoformat()

    def q(path: str, values: list[Any], make: Callable[[Any], dict[str, Any]]) -> Callable:
        it = cycle(values)

        def call() -> None:
            r = client.get(path, params=make(next(it)))
            assert r.status_code == 200, r.text

        return call

    queries: list[tuple[str, Callable[[], None]]] = [
        ("GET /articles (no filter)", q("/articles", [None], lambda _: {})),
        (
            "GET /articles?entity= (by popularity)",
            q("/articles", ents, lambda e: {"entity": e}),
        ),
        ("GET /articles?entity= (top 3)", q("/articles", top_ents, lambda e: {"entity": e})),
        ("GET /articles?entity= (rare)", q("/articles", rare_ents, lambda e: {"entity": e})),
        ("GET /articles?country=", q("/articles", ctry, lambda c: {"country": c})),
        (
            "GET /articles?entity=&country=",
            q(
                "/articles",
                list(zip(ents, ctry, strict=True)),
                lambda p: {"entity": p[0], "country": p[1]},
            ),
        ),
        (
            "GET /articles?region=middle-east&since=7d",
            q("/articles", [None], lambda _: {"region": "middle-east", "since": since}),
        ),
        ("GET /articles?q= (full text)", q("/articles", words, lambda w: {"q": w})),
        (
            "GET /articles?country=&page 2",
            q("/articles", ctry, lambda c: {"country": c, "limit": 50}),
        ),
        (
            "GET /entities?region=&since=30d&label=PERSON",
            q(
                "/entities",
                [None],
                lambda _: {"region": "middle-east", "since": month, "label": "PERSON"},
            ),
        ),
        (
            "GET /entities?region=&since=24h&label=PERSON",
            q(
                "/entities",
                [None],
                lambda _: {"region": "middle-east", "since": day, "label": "PERSON"},
            ),
        ),
        ("GET /countries?since=7d", q("/countries", [None], lambda _: {"since": since})),
        ("GET /regions?since=7d", q("/regions", [None], lambda _: {"since": since})),
    ]
    print(
        f"\nAPI latency over {stats['articles']:,} articles ({args.runs} requests each, "
        "page of 20 unless noted, in-process):"
    )
    print(f"  {'query':<46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, call in queries:
        p50, p95, worst = latency(call, args.runs)
        print(f"  {name:<46} {p50:>8.1f} {p95:>8.1f} {worst:>8.1f}")

    # The database's share: EXPLAIN ANALYZE of the page query each request runs.
    print("\ndatabase execution time of the page query (EXPLAIN ANALYZE, same parameters):")
    print(f"  {'filter':<46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    kinds: list[tuple[str, list[dict[str, Any]]]] = [
        ("entity (by popularity)", [{"entity": e} for e in ents]),
        ("entity (top 3)", [{"entity": e} for e in top_ents]),
        ("entity (rare)", [{"entity": e} for e in rare_ents]),
        ("country", [{"country": c} for c in ctry]),
        ("entity + country", [{"entity": e, "country": c} for e, c in zip(ents, ctry)]),  # noqa: B905
        ("full text", [{"q": w} for w in words]),
    ]
    for name, params in kinds:
        times = [explain_ms(url, p) for p in params]
        print(
            f"  {name:<46} {percentile(times, 50):>8.2f} {percentile(times, 95):>8.2f} "
            f"{max(times):>8.2f}"
        )


def explain_ms(url: str, params: dict[str, Any]) -> float:
    """Execution time reported by PostgreSQL for the page query of these filters."""
    from sqlalchemy import event

    from services.store.queries import ArticleFilters, search_articles

    engine = db.get_engine(url)
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with db.get_sessionmaker(url)() as session:
            search_articles(session, ArticleFilters.build(**params), limit=20)
            statement, parameters = seen[-1]
            dbapi = session.connection().connection.driver_connection
            with dbapi.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
                plan = cur.fetchone()[0]
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return float(plan[0]["Execution Time"])


if __name__ == "__main__":
    main()
