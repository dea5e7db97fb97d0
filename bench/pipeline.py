"""Pipeline benchmark: real workers on Redis and PostgreSQL against the stages' own cost.

Prints, for the batched configuration (NEWSWIRE_BATCH_SIZE, default 20) and a naive
one (one article per message on every hop, hence one transaction per article):

* sustained throughput: N articles queued at once, articles per second until the
  last is stored;
* latency from ingest (the moment an article is sent) to stored (``articles.stored_at``),
  p50/p95/p99, with articles arriving at 50% and at 90% of that sustained rate;
* CPU seconds per article in each stage (CPU of each worker's processes / N);
* the ceiling, computed in the same run from the stages' own functions called
  directly in this process (``accept`` without forwarding, ``enrich_articles``,
  ``store_batch``): cores / sum of per-article CPU cost;
* peak resident memory of every worker (parent / largest pool child) next to
  ``worker_max_memory_per_child``.

The bench creates its own PostgreSQL database, uses its own Redis db number
(flushed before and after), starts and stops the workers itself::

    python bench/pipeline.py --articles 300
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from testkit.cluster import (  # noqa: E402
    Cluster,
    RedisServer,
    cpu_seconds,
    engine_for,
    wait_for,
)
from testkit.corpus import make_corpus  # noqa: E402

WORDS = (300, 800)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# ---------------------------------------------------------------- the ceiling


def stage_costs(database_url: str, batch: int, n: int, seed: int) -> dict[str, float]:
    """CPU seconds per article of each stage's function, called directly here."""
    os.environ.pop("NEWSWIRE_BROKER_URL", None)
    os.environ["NEWSWIRE_DATABASE_URL"] = database_url
    os.environ["NEWSWIRE_BATCH_SIZE"] = str(batch)
    os.environ.setdefault("NEWSWIRE_LOG_LEVEL", "WARNING")
    from shared import db
    from shared.settings import reset_settings

    reset_settings()
    db.dispose_engine()
    from services.enrich.tagger import get_tagger
    from services.enrich.tasks import enrich_articles
    from services.ingest import pipeline
    from services.store.tasks import store_batch
    from shared.schemas import RawItem

    get_tagger().tag_many([{"id": "w", "title": "Warm up", "body": "Angela Merkel in Paris."}])
    items = [RawItem.model_validate(x) for x in make_corpus(n, f"ceil{batch}", seed, WORDS)]
    forwarded: list[Any] = []
    real_forward = pipeline.forward
    pipeline.forward = forwarded.extend  # type: ignore[assignment]
    try:
        t = time.process_time()
        for start in range(0, n, batch):
            pipeline.accept(items[start : start + batch])
        ingest = time.process_time() - t
    finally:
        pipeline.forward = real_forward  # type: ignore[assignment]
    t = time.process_time()
    enriched = []
    for start in range(0, len(forwarded), batch):
        enriched.extend(enrich_articles(forwarded[start : start + batch]))
    enrich = time.process_time() - t
    t = time.process_time()
    for start in range(0, len(enriched), batch):
        store_batch(enriched[start : start + batch])
    store = time.process_time() - t
    db.dispose_engine()
    return {"ingest": ingest / n, "enrich": enrich / n, "store": store / n}


def _direct_process(
    database_url: str, batch: int, items: list[dict[str, Any]], barrier: Any, out: Any
) -> None:
    """One of ``cores`` processes running the three stage functions back to back."""
    os.environ.pop("NEWSWIRE_BROKER_URL", None)
    os.environ["NEWSWIRE_DATABASE_URL"] = database_url
    os.environ["NEWSWIRE_BATCH_SIZE"] = str(batch)
    os.environ["NEWSWIRE_LOG_LEVEL"] = "WARNING"
    from services.enrich.tagger import get_tagger
    from services.enrich.tasks import enrich_articles
    from services.ingest import pipeline
    from services.store.tasks import store_batch
    from shared.schemas import RawItem

    get_tagger().tag_many([{"id": "w", "title": "Warm up", "body": "Angela Merkel in Paris."}])
    raw = [RawItem.model_validate(x) for x in items]
    forwarded: list[Any] = []
    pipeline.forward = forwarded.extend  # type: ignore[assignment]
    barrier.wait()
    started = time.time()
    for start in range(0, len(raw), batch):
        forwarded.clear()
        pipeline.accept(raw[start : start + batch])
        store_batch(enrich_articles(list(forwarded)))
    out.put((started, time.time()))


def direct_parallel(database_url: str, batch: int, n: int, seed: int, procs: int) -> float:
    """Articles/s of the stage functions called directly in ``procs`` processes at once
    (no queues, no workers), on the machine as it is during the run."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    items = make_corpus(n, f"direct{batch}", seed, WORDS)
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(
            target=_direct_process,
            args=(database_url, batch, items[k::procs], barrier, out),
        )
        for k in range(procs)
    ]
    for w in workers:
        w.start()
    spans = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join(60)
    return n / (max(e for _, e in spans) - min(s for s, _ in spans))


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


# ---------------------------------------------------------------- runs through the workers


def stored_times(database_url: str, tag: str) -> dict[str, datetime]:
    engine = engine_for(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT title, stored_at FROM articles WHERE title LIKE :p"),
                {"p": f"{tag} #%"},
            ).all()
    finally:
        engine.dispose()
    return {title: stored_at for title, stored_at in rows}


def group_cpu(cluster: Cluster) -> dict[str, float]:
    out: dict[str, float] = {}
    for proc in cluster.procs:
        if proc.alive():
            service = proc.name.split("#")[0]
            pids = [proc.pid, *proc.children()]
            out[service] = out.get(service, 0.0) + sum(cpu_seconds(p) for p in pids)
    return out


def wait_stored(cluster: Cluster, tag: str, n: int, timeout: float) -> dict[str, datetime]:
    def done() -> dict[str, datetime] | None:
        times = stored_times(cluster.database_url, tag)
        return times if len(times) >= n else None

    return wait_for(done, timeout, 0.5, f"{n} articles of {tag} stored")


def sustained(cluster: Cluster, n: int, batch: int, tag: str, seed: int) -> dict[str, Any]:
    items = make_corpus(n, tag, seed, WORDS)
    cpu0 = group_cpu(cluster)
    t0 = time.time()
    cluster.send_items(items, per_message=batch)
    times = wait_stored(cluster, tag, n, timeout=60 + n * 2.0)
    cpu1 = group_cpu(cluster)
    elapsed = max(t.timestamp() for t in times.values()) - t0
    return {
        "rate": n / elapsed,
        "elapsed": elapsed,
        "cpu": {k: (cpu1.get(k, 0.0) - v) / n for k, v in cpu0.items()},
    }


def open_loop(
    cluster: Cluster, rate: float, seconds: float, batch: int, tag: str, seed: int
) -> dict[str, float]:
    """Articles arrive at ``rate`` per second (sent every 0.25 s, in messages of at most
    ``batch``); latency = stored_at - the moment each was sent."""
    n = max(10, int(rate * seconds))
    items = make_corpus(n, tag, seed, WORDS)
    sent_at: dict[str, float] = {}
    t0 = time.time()
    i = 0
    while i < n:
        due = min(n, int((time.time() - t0) * rate) + 1)
        while i < due:
            part = items[i : min(due, i + batch)]
            now = time.time()
            cluster.send_items(part, per_message=batch)
            for item in part:
                sent_at[item["title"]] = now
            i += len(part)
        time.sleep(0.25)
    times = wait_stored(cluster, tag, n, timeout=120 + n)
    latencies = [times[t].timestamp() - sent_at[t] for t in sent_at]
    return {
        "n": n,
        "rate": rate,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
    }


def run_config(
    name: str,
    batch: int,
    args: argparse.Namespace,
    database_url: str,
    redis_url: str,
    workdir: Path,
    seed: int,
) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    cluster = Cluster(
        workdir / name,
        redis_url,
        database_url,
        batch_size=batch,
        log_level="INFO",
    )
    try:
        procs = [
            cluster.worker("ingest", 1, wait=False),
            cluster.worker("enrich", args.enrich_concurrency, wait=False),
            cluster.worker("store", 1, wait=False),
        ]
        for proc in procs:
            cluster.wait_ready(proc)
        # Warm up: every enrich pool child loads the model once.
        warm = make_corpus(4 * args.enrich_concurrency, f"{name}-warm", seed + 1, WORDS)
        cluster.send_items(warm, per_message=2)
        wait_stored(cluster, f"{name}-warm", len(warm), timeout=240)
        result = sustained(cluster, args.articles, batch, f"{name}-sus", seed + 2)
        result["latency"] = [
            open_loop(
                cluster,
                result["rate"] * load,
                args.latency_seconds,
                batch,
                f"{name}-lat{int(load * 100)}",
                seed + 3 + k,
            )
            for k, load in enumerate((0.5, 0.9))
        ]
        cluster.memory.sample()
        result["memory"] = cluster.memory.summary()
        result["peak_child_kib"] = max(cluster.memory.peak_child.values() or [0])
        return result
    finally:
        cluster.stop()
        client.flushdb()
        client.close()


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300, help="articles per throughput run")
    parser.add_argument("--batch", type=int, default=20, help="NEWSWIRE_BATCH_SIZE batched run")
    parser.add_argument("--enrich-concurrency", type=int, default=2)
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--ceiling-articles", type=int, default=100)
    parser.add_argument(
        "--redis-url",
        default=None,
        help="a Redis db of the bench's own (flushed); default: a private redis-server "
        "(appendonly, fsync every second) started and stopped by the bench",
    )
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--workdir", default="/tmp/newswire-bench-pipeline")
    args = parser.parse_args(argv)

    from shared import migrate
    from shared.settings import Settings
    from testkit.databases import create_pg_database, drop_pg_database

    cores = os.cpu_count() or 1
    limit_kib = Settings().worker_max_memory_per_child
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    server = None
    if args.redis_url is None:
        server = RedisServer(workdir, appendfsync="everysec")
        server.start()
        args.redis_url = server.url
    database_url = create_pg_database("nw_bench")
    try:
        migrate.upgrade(database_url)
        configs = [("batched", args.batch)] + ([] if args.skip_naive else [("naive", 1)])
        print(
            f"pipeline bench: {args.articles} articles per run ({WORDS[0]}-{WORDS[1]} words), "
            f"{cores} cores, workers ingest -c 1, enrich -c {args.enrich_concurrency}, "
            "store -c 1, Redis + PostgreSQL",
            flush=True,
        )
        results: dict[str, dict[str, Any]] = {}
        for k, (name, batch) in enumerate(configs):
            costs = stage_costs(database_url, batch, args.ceiling_articles, 100 + k)
            per_article = sum(costs.values())
            ceiling = cores / per_article
            load_before = loadavg()
            res = run_config(name, batch, args, database_url, args.redis_url, workdir, 10 * k)
            direct = direct_parallel(database_url, batch, args.ceiling_articles, 200 + k, cores)
            res["ceiling"] = ceiling
            results[name] = res
            print(f"\n[{name}] NEWSWIRE_BATCH_SIZE={batch}", flush=True)
            print(
                "  stage functions called directly (CPU/article): "
                + ", ".join(f"{s} {fmt_ms(c)}" for s, c in costs.items())
                + f" = {fmt_ms(per_article)} -> ceiling {ceiling:.1f} articles/s on {cores} cores"
            )
            print(
                f"  sustained: {res['rate']:.1f} articles/s ({args.articles} in "
                f"{res['elapsed']:.1f} s) = {100 * res['rate'] / ceiling:.0f}% of the ceiling "
                f"(load average {load_before} before the run, {loadavg()} after)"
            )
            print(
                f"  same stage functions in {cores} processes right after, no queues: "
                f"{direct:.1f} articles/s -> pipeline at {100 * res['rate'] / direct:.0f}% of it"
            )
            print(
                "  worker CPU/article: "
                + ", ".join(f"{s} {fmt_ms(c)}" for s, c in sorted(res["cpu"].items()))
                + f" = {fmt_ms(sum(res['cpu'].values()))}"
            )
            for lat in res["latency"]:
                print(
                    f"  latency at {lat['rate']:.1f} articles/s "
                    f"({100 * lat['rate'] / res['rate']:.0f}% load, {lat['n']} articles): "
                    f"p50 {lat['p50']:.2f} s, p95 {lat['p95']:.2f} s, p99 {lat['p99']:.2f} s, "
                    f"max {lat['max']:.2f} s"
                )
            print(
                f"  peak RSS MiB (parent/largest child): {res['memory']}; "
                f"worker_max_memory_per_child {limit_kib // 1024} MiB "
                f"({'within' if res['peak_child_kib'] <= limit_kib else 'ABOVE'})",
                flush=True,
            )
        if "naive" in results:
            gain = results["batched"]["rate"] / results["naive"]["rate"]
            print(
                f"\ngain of batching: x{gain:.2f} sustained throughput "
                f"({results['batched']['rate']:.1f} vs {results['naive']['rate']:.1f} articles/s)"
            )
    finally:
        with suppress(Exception):
            drop_pg_database(database_url)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    _started = time.monotonic()
    main()
    print(f"\n(bench took {time.monotonic() - _started:.0f} s)")
