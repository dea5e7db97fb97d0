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
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("NEWSWIRE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def main() -> None:
    import httpx
    import sqlalchemy as sa

    name = f"nw_console_screens_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "services.entrypoints.api:app",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    shots = ROOT / "tests" / "console" / "artifacts"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"],
            )  # fmt: skip
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
        proc.terminate()
        proc.wait(20)
        from shared import db

        db.dispose_engine()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
