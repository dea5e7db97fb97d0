"""Screenshots of the console over the samples and the test corpora (for the closing note).

Builds a fresh PostgreSQL database with: ``samples/`` ingested through the real embedded
pipeline (tagger included), the store tests' corpus (testkit/store_corpus.py, the week
before 2026-11-25), and the console tests' planted sources (testkit/stock.py);
starts the api process and saves screenshots in tests/console/artifacts/:

* ``news-week-corpora.png``: the news view, 7 days ending 2026-11-25;
* ``news-30d-now.png``: the news view, the last 30 days;
* ``news-samples.png``: the news view, 30 days ending 2024-01-16 (the samples' dates).

    .venv/bin/python bench/console_screens.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from testkit.api import ApiProcess
    from testkit.browser import ARTIFACTS, launch_chromium
    from testkit.databases import create_pg_database, drop_pg_database

    url = create_pg_database("nw_console_screens")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env.update(NEWSWIRE_DATABASE_URL=url, NEWSWIRE_LOG_LEVEL="WARNING")
    newswire = str(Path(sys.executable).parent / "newswire")
    subprocess.run([newswire, "db", "upgrade"], cwd=ROOT, env=env, check=True)
    subprocess.run([newswire, "ingest", "samples/"], cwd=ROOT, env=env, check=True)
    from services.store.tasks import store_batch
    from testkit.stock import stock
    from testkit.store_corpus import build_corpus

    store_batch([s.article() for s in build_corpus()], url)
    stock(url)
    api = ApiProcess(env)
    base = api.base
    shots = ARTIFACTS
    shots.mkdir(parents=True, exist_ok=True)
    try:
        api.wait_ready()
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for file, query in (
                ("news-week-corpora.png", "period=7d&end=2026-11-25"),
                ("news-30d-now.png", "period=30d"),
                ("news-samples.png", "period=30d&end=2024-01-16"),
            ):
                page.goto(f"{base}/console?{query}#news")
                page.wait_for_selector("#map[data-loaded='1'] svg", timeout=60_000)
                page.locator("section#news").screenshot(path=str(shots / file))
                counts = page.eval_on_selector_all(
                    ".countries li", "e => e.map(x => x.textContent.trim())"
                )
                n = len(page.query_selector_all("ul.articles li[data-article]"))
                print(f"{file}: {query}: countries {counts[:8]}; {n} latest articles listed")
            browser.close()
    finally:
        api.stop()
        drop_pg_database(url)


if __name__ == "__main__":
    main()
