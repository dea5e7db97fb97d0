"""Stories benchmark: grouping quality, the clustering step's cost beside the store
step's, and story view latency with 100,000 articles stored.

    python bench/stories.py                       # everything (a few minutes)
    python bench/stories.py --skip-views          # quality and cost only
    python bench/stories.py --views-articles 20000
    python bench/stories.py --skip-quality --load-only   # the 100k load's cost only
    python bench/stories.py --skip-views --no-tagger --breakdown  # the cost, phase by phase

Creates and drops its own PostgreSQL databases (NEWSWIRE_TEST_PG, default
postgresql://postgres@127.0.0.1:5432/postgres). Prints:

1. B-cubed precision, recall and F1 of the stories against the intended grouping of
   the generated corpus (testkit/story_corpus.py: events told by several outlets in
   their own words, look-alike events of the same kind and place), for seed 7 (the
   corpus the parameters were tuned on) and held-out seeds, with the corpus's own tags
   and with the real tagger (services/enrich) run over the text;
2. cost per article of the store step (upsert, then search documents) and of the
   clustering step that follows it, timed batch by batch in the same run, at the
   pipeline's batch size (NEWSWIRE_BATCH_SIZE, 20) on the corpus; over the 100k load in
   batches of 1000, and for its last --live-articles (the newest, as they arrive) at
   the pipeline's batch size with the database nearly full;
3. p50/p95 of the story views (in-process through the FastAPI app, JSON included)
   over --views-articles generated articles in stories of 1 to 30 articles, in
   wall-clock time and in CPU time (this process's and its PostgreSQL backends', from
   /proc/<pid>/schedstat: the cost of a request without other work on the cores); the
   three pages read by cursor are timed together and, on a line of their own, request
   by request.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from store import (  # noqa: E402  (bench/store.py)
    COUNTRIES,
    NOW,
    Generator,
    create_database,
    drop_database,
    percentile,
)

from services.store.repository import index_search, upsert_batch  # noqa: E402
from services.store.tasks import cluster_in, place  # noqa: E402
from shared import db, migrate  # noqa: E402
from shared.schemas import (  # noqa: E402
    EnrichedArticle,
    EnrichedBatch,
    dump,
    parse,
)
from testkit import factories  # noqa: E402
from testkit.story_corpus import StoryArticle, bcubed, build_story_corpus  # noqa: E402

DEV_SEED = 7
HELD_OUT = (101, 102, 103)


# ---------------------------------------------------------------- store + cluster, timed

# --breakdown: where the placement's time goes (PostgreSQL, the store step's path:
# stories.place_batch). Each phase is a function of services.store.stories, timed by
# wrapping it for the run; "profile JSON" runs inside "writes" and is taken out of it.
PHASES = (
    ("features", "_sorted_items", "tokenizing, entity weights, keys (item_of)"),
    ("lock + reads", "_lock_and_prefetch", "savepoint, advisory lock, the one read round trip"),
    ("cache update", "_refresh", "the stories read brought into the worker's cache"),
    ("weighting", "_weigh", "document frequencies into the features"),
    ("scoring", "_assign", "candidates, similarity, profiles updated"),
    ("writes", "_write_pg", "stories, story_keys, story_terms: one round trip"),
    ("profile JSON", "_story_arrays", "the written stories' columns and profiles as arrays"),
)


class PhaseTimer:
    """Seconds per phase (:data:`PHASES`) while active, by wrapping the functions."""

    def __init__(self) -> None:
        self.spent = dict.fromkeys((name for name, _, _ in PHASES), 0.0)
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> PhaseTimer:
        from services.store import stories

        for name, function, _ in PHASES:
            original = getattr(stories, function)  # AttributeError: renamed, update PHASES
            self._saved[function] = original
            setattr(stories, function, self._timed(name, original))
        return self

    def _timed(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[name] += time.perf_counter() - started

        return call

    def __exit__(self, *exc: object) -> None:
        from services.store import stories

        for function, original in self._saved.items():
            setattr(stories, function, original)

    def report(self, n: int, t_store: float, t_cluster: float) -> None:
        """Print ms/article and share of the store step per phase (``n`` articles)."""
        spent = dict(self.spent)
        spent["writes"] -= spent["profile JSON"]
        spent["other"] = t_cluster - sum(spent.values())
        print(f"    {'phase':<14} {'ms/article':>10} {'of store':>9}")
        for name, _, what in (*PHASES, ("other", "", "the rest of place_batch")):
            s = spent[name]
            print(f"    {name:<14} {s / n * 1000:>10.3f} {s / t_store:>9.1%}  {what}")
        floor = spent["features"] + spent["lock + reads"]
        print(
            f"    {'clustering':<14} {t_cluster / n * 1000:>10.3f} {t_cluster / t_store:>9.1%}"
            f"  (store step {t_store / n * 1000:.3f} ms/article); its inputs alone (features, "
            f"lock + reads): {floor / t_store:.1%}"
        )


def store_and_cluster(
    url: str, batch: list[EnrichedArticle], message: dict[str, Any] | None = None
) -> tuple[float, float]:
    """The store task for one batch (store_batch without its log lines): (seconds of
    the store step = upsert + search documents + the commits, and the validation of the
    message when one is given; seconds of the clustering: the placement before the
    articles' INSERT, and the clustering after the write when the placement did not
    apply)."""
    started = time.perf_counter()
    cluster_s = 0.0

    def timed_place(session: Any, articles: list[EnrichedArticle]) -> dict[str, int] | None:
        nonlocal cluster_s
        t = time.perf_counter()
        try:
            return place(session, articles)
        finally:
            cluster_s += time.perf_counter() - t

    if message is not None:
        batch = parse(EnrichedBatch, message).articles
    with db.session_scope(url) as session:
        result = upsert_batch(session, batch, place=timed_place)
    placed = len(result.placed or {})
    with db.session_scope(url) as session:
        if result.placed is None:
            clustering = time.perf_counter()
            placed = cluster_in(session, result.written, batch)
            cluster_s += time.perf_counter() - clustering
        index_search(session, result.written)
    assert placed == len(result.inserted), (placed, len(result.inserted))
    return time.perf_counter() - started - cluster_s, cluster_s


def grouping(url: str) -> dict[str, int | None]:
    with db.session_scope(url) as session:
        return dict(session.execute(sa.text("SELECT id, story_id FROM articles")).all())


def tagged(corpus: list[StoryArticle]) -> list[EnrichedArticle]:
    """The corpus's text through the real tagger (what the enrich stage would send)."""
    from services.enrich.tasks import enrich_articles

    return enrich_articles([a.payload() for a in corpus])


def quality_and_cost(args: argparse.Namespace) -> None:
    print(
        f"\n1-2. grouping quality and cost (corpus: {args.events} events over {args.days} days; "
        f"store batches of {args.batch}, in date order; store step "
        f"{'with' if args.with_parse else 'without'} the message validation)"
    )
    header = (
        f"  {'seed':<12} {'tags':<8} {'articles':>8} {'events':>6} {'stories':>7} "
        f"{'P':>6} {'R':>6} {'F1':>6}  {'store ms/art':>12} {'cluster ms/art':>14} {'ratio':>6}"
    )
    print(header)
    f1s: dict[str, list[float]] = {"corpus": [], "tagger": []}
    ratios: list[float] = []
    timer = PhaseTimer() if args.breakdown else None
    all_n, all_store, all_cluster = 0, 0.0, 0.0
    for seed in (DEV_SEED, *HELD_OUT):
        corpus = build_story_corpus(seed=seed, events=args.events, days=args.days)
        modes: list[tuple[str, list[EnrichedArticle]]] = [("corpus", [a.article() for a in corpus])]
        if not args.no_tagger:
            modes.append(("tagger", tagged(corpus)))
        truth = {a.id: a.event for a in corpus}
        for mode, articles in modes:
            url = create_database()
            try:
                migrate.upgrade(url)
                t_store = t_cluster = 0.0
                with timer or contextlib.nullcontext():
                    for start in range(0, len(articles), args.batch):
                        part = articles[start : start + args.batch]
                        message = dump(EnrichedBatch(articles=part)) if args.with_parse else None
                        s, c = store_and_cluster(url, part, message)
                        t_store += s
                        t_cluster += c
                all_n, all_store, all_cluster = (
                    all_n + len(articles),
                    all_store + t_store,
                    all_cluster + t_cluster,
                )
                got = grouping(url)
            finally:
                drop_database(url)
            p, r, f1 = bcubed(truth, got)
            f1s[mode].append(f1)
            ratio = t_cluster / t_store
            ratios.append(ratio)
            n = len(articles)
            name = f"{seed}{' (tuned)' if seed == DEV_SEED else ''}"
            print(
                f"  {name:<12} {mode:<8} {n:>8} {len(set(truth.values())):>6} "
                f"{len(set(got.values())):>7} {p:>6.3f} {r:>6.3f} {f1:>6.3f}  "
                f"{t_store / n * 1000:>12.3f} {t_cluster / n * 1000:>14.3f} {ratio:>6.1%}"
            )
    for mode, values in f1s.items():
        if values:
            held = values[1:]
            print(
                f"  F1 with {mode} tags: tuned seed {values[0]:.3f}; held-out seeds "
                f"median {statistics.median(held):.3f} (min {min(held):.3f})"
            )
    print(
        f"  clustering step / store step, per article: median {statistics.median(ratios):.1%} "
        f"over {len(ratios)} runs (max {max(ratios):.1%})"
    )
    if timer:
        print(f"  where the clustering's time goes, all {len(ratios)} runs together:")
        timer.report(all_n, all_store, all_cluster)


# ---------------------------------------------------------------- 100k views


class EventGenerator:
    """Articles in events (1-30 articles each), on bench/store.py's vocabulary, entities
    (Zipf) and countries: each event has its own headline words, four core entities and a
    country; each article adds words and six entities of its own."""

    def __init__(self, seed: int = 3) -> None:
        self.base = Generator(seed=seed)
        self.rng = random.Random(seed)
        self.n = 0

    def articles(self, total: int) -> list[EnrichedArticle]:
        rng, g = self.rng, self.base
        out: list[EnrichedArticle] = []
        while len(out) < total:
            size = min(int(rng.paretovariate(1.2)), 30)
            words = rng.sample(g.vocab[200:], 6)
            core = {e: None for e in rng.choices(g.entities, cum_weights=g.entity_weights, k=4)}
            country = rng.choices(range(len(COUNTRIES)), cum_weights=g.country_weights)[0]
            start = NOW - timedelta(seconds=rng.randint(0, 90 * 86400))
            for _ in range(size):
                if len(out) >= total:
                    break
                out.append(self._article(words, list(core), country, start))
        return out

    def _article(self, words: list[str], core: list[Any], country: int, start: Any) -> Any:
        rng, g = self.rng, self.base
        self.n += 1
        aid = f"s{self.n:08d}{rng.getrandbits(48):012x}"
        title_words = rng.sample(words, 5) + rng.choices(g.vocab, k=1)
        ents: dict[tuple[str, str], int] = {
            e: rng.randint(1, 4) for e in core if rng.random() < 0.9
        }
        for e in rng.choices(g.entities, cum_weights=g.entity_weights, k=6):
            ents.setdefault(e, 1)
        countries = {country: True}
        for i in rng.choices(range(len(COUNTRIES)), cum_weights=g.country_weights, k=2):
            countries.setdefault(i, False)
        regions: dict[tuple[str, str], str] = {}
        for i in countries:
            _, _, m49, m49_name, group = COUNTRIES[i]
            regions[("m49", m49)] = m49_name
            if group:
                regions[("group", group)] = "Middle East"
        published = min(start + timedelta(minutes=rng.expovariate(1 / 300)), NOW)
        body = " ".join(words + rng.choices(g.vocab, cum_weights=g.word_weights, k=250))
        return factories.enriched(
            aid,
            body,
            source=rng.choice([f"Source {i}" for i in range(60)]),
            title=" ".join(title_words).capitalize(),
            published_at=published,
            ingested_at=published + timedelta(minutes=5),
            language="en",
            trace_id=aid,
            entities=[factories.entity(n, lab, c, spans=[[0, 5]]) for (n, lab), c in ents.items()],
            countries=[
                factories.country(*COUNTRIES[i][:2], mentions=1, via=["gazetteer"], focus=focus)
                for i, focus in countries.items()
            ],
            regions=[factories.region(s, c, name) for (s, c), name in regions.items()],
            tagger="bench",
            tagger_version="1",
            enriched_at=NOW,
        )


def views(args: argparse.Namespace) -> None:
    from services.entrypoints.api import create_app  # noqa: F401 - fail before the load, not after

    if args.database:  # kept by an earlier --keep run: the views only
        view_latency(args.database, EventGenerator(), args.runs)
        return
    url = create_database()
    try:
        migrate.upgrade(url)
        gen = EventGenerator()
        articles = gen.articles(args.views_articles)
        # Arrival order: by date, with a few hours of jitter (feeds are polled late).
        rng = random.Random(5)
        articles.sort(
            key=lambda a: a.published_at + timedelta(minutes=rng.randint(0, 240))  # type: ignore[operator]
        )
        live = min(args.live_articles, len(articles))
        bulk = articles[: len(articles) - live]
        print(
            f"\n3. loading {len(articles):,} articles (store step + clustering, batches of "
            f"1000, the last {live:,} in batches of {args.batch})"
        )
        t_store = t_cluster = 0.0
        tail: list[tuple[float, float, int]] = []
        started = time.perf_counter()
        for start in range(0, len(bulk), 1000):
            batch = bulk[start : start + 1000]
            s, c = store_and_cluster(url, batch)
            t_store += s
            t_cluster += c
            if start >= len(bulk) - 10_000:
                tail.append((s, c, len(batch)))
            if (start // 1000) % 20 == 19:
                print(f"  {start + len(batch):,} stored", file=sys.stderr, flush=True)
        l_store = l_cluster = 0.0
        timer = PhaseTimer() if args.breakdown else None
        with timer or contextlib.nullcontext():
            for start in range(len(bulk), len(articles), args.batch):
                s, c = store_and_cluster(url, articles[start : start + args.batch])
                l_store += s
                l_cluster += c
        t_store += l_store
        t_cluster += l_cluster
        n = len(articles)
        print(
            f"  whole load: {time.perf_counter() - started:.0f} s; store step "
            f"{t_store / n * 1000:.3f} ms/article, clustering {t_cluster / n * 1000:.3f} "
            f"ms/article ({t_cluster / t_store:.1%})"
        )
        ts, tc, tn = (sum(x[i] for x in tail) for i in range(3))
        if tn:
            print(
                f"  last {tn:,} articles in batches of 1000 (database nearly full): store step "
                f"{ts / tn * 1000:.3f} ms/article, clustering {tc / tn * 1000:.3f} ms/article "
                f"({tc / ts:.1%})"
            )
        if live:
            print(
                f"  last {live:,} articles in batches of {args.batch} (as the pipeline stores "
                f"them, {len(bulk):,} stored before): store step {l_store / live * 1000:.3f} "
                f"ms/article, clustering {l_cluster / live * 1000:.3f} ms/article "
                f"({l_cluster / l_store:.1%})"
            )
            if timer:
                print("  where the clustering's time goes in those batches:")
                timer.report(live, l_store, l_cluster)
        if not args.load_only:
            view_latency(url, gen, args.runs)
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            drop_database(url)


def view_latency(url: str, gen: EventGenerator, runs: int) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from services.entrypoints.api import create_app
    from services.store.api.deps import get_session

    with db.session_scope(url) as s:
        s.execute(sa.text("ANALYZE"))
        n_articles = s.execute(sa.text("SELECT count(*) FROM articles")).scalar()
        n_stories, biggest, multi = s.execute(
            sa.text(
                "SELECT count(*), max(article_count), "
                "count(*) FILTER (WHERE article_count > 1) FROM stories"
            )
        ).one()
        ids = [
            r[0] for r in s.execute(sa.text("SELECT id FROM stories ORDER BY random() LIMIT 60"))
        ]
        big_ids = [
            r[0]
            for r in s.execute(
                sa.text("SELECT id FROM stories ORDER BY article_count DESC LIMIT 20")
            )
        ]
    print(
        f"\n  {n_articles:,} articles in {n_stories:,} stories ({multi:,} with more than one "
        f"article; the biggest has {biggest})"
    )
    app = create_app()

    def session_for_bench() -> Iterator[Session]:
        with db.get_sessionmaker(url)() as session:
            yield session

    app.dependency_overrides[get_session] = session_for_bench
    client = TestClient(app)
    g = gen.base
    rng = random.Random(9)
    ents = [e[0] for e in rng.choices(g.entities, cum_weights=g.entity_weights, k=40)]
    top_ents = [g.entities[i][0] for i in range(3)]
    ctry = [c[0] for c in rng.choices(COUNTRIES, cum_weights=g.country_weights, k=40)]
    words = [g.vocab[i] for i in range(250, 290)]
    week = (NOW - timedelta(days=7)).isoformat()

    def cycle(values: list[Any]) -> Iterator[Any]:
        while True:
            yield from values

    def q(path: str, values: list[Any], make: Callable[[Any], dict[str, Any]]) -> Callable:
        it = cycle(values)

        def call() -> None:
            value = next(it)
            r = client.get(path.format(value), params=make(value))
            assert r.status_code == 200, r.text

        return call

    # Wall-clock milliseconds of each request of each call of pages() (the first call
    # is timed()'s warm-up): a view is one request, the three pages in a row are three.
    page_requests: list[list[float]] = []

    def pages(params: dict[str, Any]) -> Callable:
        def call() -> None:
            cursor = None
            spent: list[float] = []
            page_requests.append(spent)
            for _ in range(3):
                started = time.perf_counter()
                r = client.get(
                    "/stories", params={**params, **({"cursor": cursor} if cursor else {})}
                )
                assert r.status_code == 200, r.text
                cursor = r.json()["next_cursor"]
                spent.append((time.perf_counter() - started) * 1000)
                if not cursor:
                    break

        return call

    kinds: list[tuple[str, Callable[[], None]]] = [
        ("GET /stories (recency)", q("/stories", [None], lambda _: {})),
        ("GET /stories?sort=size", q("/stories", [None], lambda _: {"sort": "size"})),
        ("GET /stories?sort=growth", q("/stories", [None], lambda _: {"sort": "growth"})),
        ("GET /stories?entity= (by popularity)", q("/stories", ents, lambda e: {"entity": e})),
        ("GET /stories?entity= (top 3)", q("/stories", top_ents, lambda e: {"entity": e})),
        ("GET /stories?country=", q("/stories", ctry, lambda c: {"country": c})),
        (
            "GET /stories?region=middle-east&since=7d",
            q("/stories", [None], lambda _: {"region": "middle-east", "since": week}),
        ),
        ("GET /stories?min_articles=5", q("/stories", [None], lambda _: {"min_articles": 5})),
        ("GET /stories?q= (full text)", q("/stories", words, lambda w: {"q": w})),
        ("GET /stories, 3 pages by cursor (sort=size)", pages({"sort": "size"})),
        ("GET /stories/{id} (random)", q("/stories/{}", ids, lambda _: {})),
        ("GET /stories/{id} (20 biggest)", q("/stories/{}", big_ids, lambda _: {})),
        (
            "GET /entities?count=stories&since=7d",
            q("/entities", [None], lambda _: {"count": "stories", "since": week}),
        ),
        (
            "GET /countries?count=stories&since=7d",
            q("/countries", [None], lambda _: {"count": "stories", "since": week}),
        ),
        (
            "GET /regions?count=stories&since=7d",
            q("/regions", [None], lambda _: {"count": "stories", "since": week}),
        ),
    ]
    print(
        f"  story views ({runs} requests each, page of 20, in-process, JSON included; wall "
        "clock, and CPU = this process's + its database backends' CPU time, what the "
        "request costs without other work competing for the cores):"
    )
    print(
        f"  {'query':<46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU p50':>8} {'CPU p95':>8}"
    )
    for name, call in kinds:
        page_requests.clear()
        wall, cpu = timed(url, call, runs)
        print(
            f"  {name:<46} {percentile(wall, 50):>8.1f} {percentile(wall, 95):>8.1f} "
            f"{max(wall):>8.1f} {percentile(cpu, 50):>8.1f} {percentile(cpu, 95):>8.1f}"
        )
        each = [ms for spent in page_requests[1:] for ms in spent]
        if each:  # the same requests one by one (no CPU split per request)
            label = f"  ... per request ({len(each)} pages)"
            print(
                f"  {label:<46} {percentile(each, 50):>8.1f} {percentile(each, 95):>8.1f} "
                f"{max(each):>8.1f} {'-':>8} {'-':>8}"
            )


def _backends(url: str) -> list[int]:
    """Process ids of the PostgreSQL backends connected to the database (the API's pool),
    when the server runs on this machine and their /proc entries can be read."""
    name = url.rsplit("/", 1)[1].split("?")[0]
    with sa.create_engine(url, poolclass=sa.pool.NullPool).connect() as conn:
        pids = conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        ).scalars()
        return [p for p in pids if Path(f"/proc/{p}/schedstat").exists()]


def _on_cpu_ns(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def timed(url: str, call: Callable[[], None], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each of ``runs`` calls (after one warm-up)."""
    call()
    pids = _backends(url)
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        db_before = _on_cpu_ns(pids)
        cpu_before = time.process_time()
        started = time.perf_counter()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        spent = time.process_time() - cpu_before
        cpu.append(spent * 1000 + (_on_cpu_ns(pids) - db_before) / 1e6)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=90, help="events per corpus")
    parser.add_argument("--days", type=int, default=21, help="days the events spread over")
    parser.add_argument("--batch", type=int, default=20, help="articles per store batch")
    parser.add_argument("--no-tagger", action="store_true", help="corpus tags only")
    parser.add_argument(
        "--with-parse",
        action="store_true",
        help="count the validation of the store message in the store step (as the task does)",
    )
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-views", action="store_true")
    parser.add_argument("--views-articles", type=int, default=100_000)
    parser.add_argument(
        "--live-articles",
        type=int,
        default=2000,
        help="the last articles of the load, stored in batches of --batch",
    )
    parser.add_argument("--runs", type=int, default=60, help="requests per view kind")
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="the 100k load and its cost figures, without the view latencies",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="where the clustering's time goes, phase by phase (the corpus runs, and the "
        "live batches of the 100k load)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the 100k database")
    parser.add_argument("--database", default=None, help="a database kept by --keep: views only")
    args = parser.parse_args()

    os.environ.setdefault("NEWSWIRE_LOG_LEVEL", "WARNING")
    from shared.logging import configure_logging

    configure_logging("console", "WARNING")
    if not args.skip_quality:
        quality_and_cost(args)
    if not args.skip_views:
        views(args)


if __name__ == "__main__":
    main()
