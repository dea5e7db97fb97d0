"""Console load time with 100,000 articles: the api process (uvicorn) on PostgreSQL and Redis.

Stocks a fresh PostgreSQL database with the console test sources plus N articles over 30
days from 40 sites and 30 countries (stored as the store worker stores them), puts
messages in the queues (nobody consumes them: a pipeline under load), starts
``uvicorn services.entrypoints.api:app`` and measures, side by side in one run:

* ``GET /console`` (the whole server-rendered page: pipeline, sources, news), and its
  parts as the auto-refresh fetches them, ``GET /console/map.svg`` and ``GET /sources``;
* with Debian's chromium (when installed): the page in a real browser, navigation start
  to the load event, and until the map is in the page.

Prints median, p95 and max per target. Usage:

    .venv/bin/python bench/console_load.py [--articles 100000] [--runs 60] [--keep]
    .venv/bin/python bench/console_load.py --database-url postgresql://... (reuse a stocked db)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REDIS = os.environ.get("NEWSWIRE_BENCH_REDIS", "redis://127.0.0.1:6379/14")
TOKEN = "bench-read-token"
RECORDS_SQL = """
INSERT INTO ingest_records (article_id, trace_id, status, canonical_url, content_hash, source,
                            attempts, sends, received_at, enriched_at, stored_at)
SELECT id, trace_id, 'stored', url, content_hash, source, 0, 1,
       ingested_at, ingested_at + interval '2 seconds', ingested_at + interval '3 seconds'
FROM articles
ON CONFLICT (article_id) DO NOTHING
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, ms: list[float]) -> None:
    print(
        f"  {name:34} n={len(ms):3}  median {statistics.median(ms):7.1f} ms  "
        f"p95 {pct(ms, 0.95):7.1f} ms  max {max(ms):7.1f} ms"
    )


def stock_database(url: str, articles: int) -> None:
    from shared import migrate
    from testkit.stock import bulk, stock

    migrate.upgrade(url)
    started = time.perf_counter()
    stock(url)
    bulk(url, articles)
    print(f"stocked {articles:,} + 528 articles in {time.perf_counter() - started:.0f} s")


def load_queues(broker: str, database: str) -> None:
    import redis

    os.environ["NEWSWIRE_BROKER_URL"] = broker
    os.environ["NEWSWIRE_DATABASE_URL"] = database
    from shared import dispatch, queues
    from shared.settings import reset_settings

    reset_settings()
    redis.Redis.from_url(broker).flushdb()
    item = {"kind": "record", "title": "waiting", "body": "word " * 200, "source": "bench"}
    for _ in range(400):
        dispatch.send(queues.INGEST_ITEMS, {"schema_version": 1, "items": [item] * 20})
    for _ in range(100):
        dispatch.send(queues.TAG_ARTICLES, {"schema_version": 1, "articles": []})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--browser-runs", type=int, default=20)
    ap.add_argument("--database-url", default=None, help="reuse a stocked database")
    ap.add_argument("--keep", action="store_true", help="keep the database it creates")
    ap.add_argument(
        "--cache-s",
        default="10",
        help="NEWSWIRE_CONSOLE_CACHE_S for the api process (0: every section computed cold)",
    )
    args = ap.parse_args()

    import httpx
    import sqlalchemy as sa

    from testkit.api import ApiProcess
    from testkit.databases import create_pg_database, drop_pg_database

    created = None
    url = args.database_url
    if url is None:
        url = created = create_pg_database("nw_bench_console")
        os.environ["NEWSWIRE_DATABASE_URL"] = url
        stock_database(url, args.articles)
    with sa.create_engine(url).begin() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM articles")).scalar()
        # The ingest records the real pipeline writes for every article (rates, lag).
        conn.execute(sa.text(RECORDS_SQL))
    # What autovacuum does after a bulk load: statistics and the visibility map.
    with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"database {url.rsplit('/', 1)[1]}: {n:,} articles")
    load_queues(REDIS, url)

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env.update(
        NEWSWIRE_DATABASE_URL=url,
        NEWSWIRE_BROKER_URL=REDIS,
        NEWSWIRE_API_READ_TOKEN=TOKEN,
        NEWSWIRE_LOG_LEVEL="WARNING",
        NEWSWIRE_CONSOLE_CACHE_S=args.cache_s,
    )
    print(f"api process: NEWSWIRE_CONSOLE_CACHE_S={args.cache_s}")
    api = ApiProcess(env)
    base = api.base
    try:
        api.wait_ready()
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"})
        targets = {
            "GET /console (whole page)": "/console",
            "GET /console?part=pipeline": "/console?part=pipeline",
            "GET /console?part=sources": "/console?part=sources",
            "GET /console?part=news": "/console?part=news",
            "GET /console?country=IQ&period=30d": "/console?country=IQ&period=30d",
            "GET /console/map.svg (gzip)": "/console/map.svg",
            "GET /sources": "/sources",
        }
        for path in targets.values():  # warm up: imports, templates, plans, caches
            for _ in range(3):
                assert client.get(path).status_code == 200, path
        times: dict[str, list[float]] = {k: [] for k in targets}
        for _ in range(args.runs):  # interleaved, so every target sees the same noise
            for label, path in targets.items():
                t = time.perf_counter()
                r = client.get(path, headers={"Accept-Encoding": "gzip"})
                times[label].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
        print(f"server side, {args.runs} runs each (httpx, keep-alive, one client):")
        for label, ms in times.items():
            report(label, ms)
        page = client.get("/console")
        svg = client.get("/console/map.svg", headers={"Accept-Encoding": "gzip"})
        print(
            f"  page {len(page.content) / 1024:.0f} KiB HTML; map {len(svg.content) / 1024:.0f} "
            f"KiB SVG, {svg.num_bytes_downloaded / 1024:.0f} KiB gzipped on the wire"
        )
        browser_times(base, args.browser_runs)
    finally:
        api.stop()
        if created and not args.keep:
            drop_pg_database(created)
        elif created:
            print(f"kept {created}")


def browser_times(base: str, runs: int) -> None:
    from testkit.browser import chromium_missing, launch_chromium

    why = chromium_missing()
    if why:
        print(f"browser: {why}; skipped")
        return
    from playwright.sync_api import sync_playwright

    loads: list[float] = []
    maps: list[float] = []
    navs: list[float] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/console?token={TOKEN}")
        page.wait_for_selector("#map[data-loaded='1']", timeout=60_000)
        ttfb: list[float] = []
        dom: list[float] = []
        for _ in range(runs):
            t = time.perf_counter()
            page.goto(f"{base}/console", wait_until="load")
            loads.append((time.perf_counter() - t) * 1000)
            page.wait_for_selector("#map[data-loaded='1']", timeout=60_000)
            maps.append((time.perf_counter() - t) * 1000)
            nav = page.evaluate(
                "(() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.responseStart, n.domContentLoadedEventEnd, n.loadEventEnd]; })()"
            )
            ttfb.append(nav[0])
            dom.append(nav[1])
            navs.append(nav[2])
        shots = ROOT / "tests" / "console" / "artifacts"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "bench-console-100k.png"), full_page=True)
        timing: Any = page.evaluate(
            "JSON.stringify(performance.getEntriesByType('navigation')[0].toJSON())"
        )
        browser.close()
    print(f"browser (chromium headless), {runs} loads:")
    report("Navigation Timing: first byte", ttfb)
    report("Navigation Timing: DOMContentLoaded", dom)
    report("Navigation Timing: load event end", navs)
    report("page.goto() until load (wall)", loads)
    report("page.goto() until map in page (wall)", maps)
    print(f"  last navigation entry: {timing[:200]}...")


if __name__ == "__main__":
    main()
