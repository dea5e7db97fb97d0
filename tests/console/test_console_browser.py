"""The console in a real browser (Debian's chromium, headless, driven by Playwright) against
a real api process (uvicorn) with a stocked PostgreSQL database and live Redis queues.

Screenshots are kept in tests/console/artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared import dispatch, queues
from shared.schemas import EnrichedBatch, dump
from testkit.browser import ARTIFACTS, chromium_missing, launch_chromium
from testkit.processes import free_port
from testkit.stock import Planted, article, stock
from testkit.workers import ROOT, Broker, Worker, wait_for

pytestmark = pytest.mark.browser

READ, WRITE = "console-read-token", "console-write-token"


@pytest.fixture(scope="module", autouse=True)
def _need_chromium() -> None:
    why = chromium_missing()
    if why:
        print(f"\nbrowser tests skipped: {why}", file=sys.stderr)
        pytest.skip(why)


@dataclass
class Api:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, token: str = READ) -> httpx.Response:
        return httpx.get(self.base + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(self.base + "/metrics", timeout=30).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
        }


@pytest.fixture
def console_stack(broker: Broker) -> Iterator[tuple[Api, Broker, Worker, dict[str, Any]]]:
    """Stocked database, messages waiting in ingest and enrich, a dead letter, a store
    worker (so a replayed letter is stored) and the api process on a free port."""
    from shared.tasks import write_dead_letter

    stock(broker.db_url)
    # Live queues: nobody consumes ingest or enrich, so their messages wait.
    for n, size in enumerate((5, 3, 4)):
        items = [
            {"kind": "record", "title": f"waiting {n}.{i}", "body": "x " * 50, "source": "Q"}
            for i in range(size)
        ]
        dispatch.send(queues.INGEST_ITEMS, {"schema_version": 1, "items": items})
    dispatch.send(queues.TAG_ARTICLES, {"schema_version": 1, "articles": []})
    # A dead letter of the store stage: a whole article that failed to be written.
    lost = article(Planted("Steady Wire", time_now(), n=9_999_999), prefix="dead")
    write_dead_letter(
        task=queues.STORE_ARTICLES,
        queue=queues.STORE,
        payload=dump(EnrichedBatch(articles=[lost])),
        error="OperationalError: the database went away (planted by the test)",
        reason="max_attempts",
        attempts=5,
        article_id=lost.id,
        trace_id=lost.trace_id,
    )
    env = broker.child_env(NEWSWIRE_API_READ_TOKEN=READ, NEWSWIRE_API_TOKEN=WRITE)
    worker = Worker("store", env, broker.tmp / "store-worker.log")
    port = free_port()
    log = broker.tmp / "api.log"
    out = open(log, "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "uvicorn"),
            "services.entrypoints.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = Api(f"http://127.0.0.1:{port}", proc, log)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError("api died: " + log.read_text()[-3000:])
        try:
            return httpx.get(api.base + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 60, 0.2, "the api process to answer /health")
        worker.wait_ready()
        yield api, broker, worker, {"lost": lost}
    finally:
        worker.stop()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


def time_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_console_in_chromium(console_stack: tuple[Api, Broker, Worker, dict[str, Any]]) -> None:
    from playwright.sync_api import sync_playwright

    api, _, _, planted = console_stack
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    bad_responses: list[str] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on(
                "console",
                lambda m: errors.append(f"{m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

            def on_response(r: Any) -> None:
                if r.status >= 400 and not r.url.endswith("/console"):
                    bad_responses.append(f"{r.status} {r.url}")

            page.on("response", on_response)

            # No token yet: the token form (401), then the write token through it.
            first = page.goto(api.base + "/console")
            assert first is not None and first.status == 401
            page.fill("#token", WRITE)
            page.click("button[type=submit]")
            page.wait_for_selector("section#pipeline table.queues")
            page.wait_for_selector("#map[data-loaded='1'] svg", timeout=30_000)
            assert "token" not in page.url
            # Chromium logs the deliberate 401 of the token form as a console error:
            # only what happens from here on counts.
            assert [e for e in errors if "401" not in e] == [], errors
            errors.clear()

            # The numbers are those of /metrics and of the API.
            metrics = api.metrics()
            for q in queues.QUEUES:
                cell = page.text_content(f"tr[data-queue='{q}'] td[data-field='waiting']")
                expected = metrics[("newswire_queue_messages_waiting", (("queue", q),))]
                assert cell is not None and int(cell.replace(",", "")) == int(expected), q
            assert page.text_content("tr[data-queue='ingest'] td[data-field='waiting']") == "3"
            articles_cell = page.text_content("tr[data-queue='ingest'] td[data-field='articles']")
            assert articles_cell is not None and articles_cell.strip() == "12"
            dead_waiting = metrics[
                (
                    "newswire_dead_letters",
                    (
                        ("reason", "max_attempts"),
                        ("status", "dead"),
                        ("task", "store.store_articles"),
                    ),
                )
            ]
            cell = page.text_content("tr[data-queue='dead-letters'] td[data-field='waiting']")
            assert cell is not None and int(cell) == int(dead_waiting) == 1
            listing = api.get("/sources").json()
            shown = page.eval_on_selector_all(
                "table.sources tbody tr[data-source]", "rows => rows.map(r => r.dataset.source)"
            )
            assert shown == [s["id"] for s in listing["sources"]]
            quiet_row = page.text_content("tr[data-source='Quiet Daily']") or ""
            assert "quiet: last article 2.0d ago" in quiet_row

            # Consumers come from asking the workers (in the background): after a refresh
            # the store worker shows, as /metrics counts it.
            def store_consumers() -> str:
                page.evaluate("window.newswireConsole.refresh('pipeline')")
                page.wait_for_timeout(300)
                return page.text_content("tr[data-queue='store'] td[data-field='consumers']") or ""

            wait_for(lambda: store_consumers() == "1", 30, 0.5, "the store consumer to show")
            consumers = api.metrics()[("newswire_queue_consumers", (("queue", "store"),))]
            assert consumers == 1
            assert page.text_content("tr[data-queue='ingest'] td[data-field='consumers']") == "0"
            page.screenshot(path=str(ARTIFACTS / "console-pipeline.png"), full_page=True)

            # A click on an entity filters the latest articles.
            def sources_listed() -> set[str]:
                return set(
                    page.eval_on_selector_all(
                        "ul.articles li .src", "e => e.map(x => x.textContent)"
                    )
                )

            before = sources_listed()
            assert len(before) > 1, before
            page.click("a.entity:text-is('Olaf Scholz')")
            page.wait_for_selector("#filter-entity")
            assert "entity=Olaf+Scholz" in page.url
            assert sources_listed() == {"Quiet Daily"}
            # A click on a country of the map filters too (Iraq: Steady Wire's articles).
            page.click("#filter-entity")  # clear the entity filter
            page.wait_for_selector("#map[data-loaded='1'] svg")
            page.click("#map g.iq.map-element path >> nth=0", force=True)
            page.wait_for_selector("#filter-country")
            assert "country=IQ" in page.url
            assert sources_listed() == {"Steady Wire"}
            page.wait_for_selector("#map[data-loaded='1'] svg")
            page.screenshot(path=str(ARTIFACTS / "console-news-iraq.png"), full_page=True)

            # The replay button stores the dead-lettered article (through the store worker).
            page.goto(api.base + "/console#pipeline")
            lost = planted["lost"]
            assert api.get(f"/articles/{lost.id}").status_code == 404
            page.click("button.replay")
            page.wait_for_selector("#toast.show")
            assert "replayed" in (page.text_content("#toast") or "")
            wait_for(
                lambda: api.get(f"/articles/{lost.id}").status_code == 200,
                60,
                0.3,
                "the replayed article to be stored",
            )
            stored = api.get(f"/articles/{lost.id}").json()
            assert stored["title"] == lost.title
            page.reload()
            page.wait_for_selector("section#pipeline table.queues")
            assert page.query_selector("button.replay") is None  # nothing left to replay

            # A phone-sized screen gets the same page without horizontal overflow of the page.
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.context.add_cookies(page.context.cookies())
            phone.goto(api.base + "/console")
            phone.wait_for_selector("#map[data-loaded='1'] svg", timeout=30_000)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 400, width
            phone.screenshot(path=str(ARTIFACTS / "console-phone.png"), full_page=True)
        finally:
            browser.close()
    assert errors == [], errors
    assert bad_responses == [], bad_responses


def test_read_token_sees_no_replay_and_cannot_replay(
    console_stack: tuple[Api, Broker, Worker, dict[str, Any]],
) -> None:
    api, *_ = console_stack
    # ?token= once: moved into the cookie, the address redirected without it.
    with httpx.Client(base_url=api.base, follow_redirects=False, timeout=30) as client:
        r = client.get("/console?token=" + READ + "&period=30d")
        assert r.status_code == 303 and r.headers["location"] == "/console?period=30d"
        assert (
            "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers["set-cookie"]
        )
        page = client.get("/console?period=30d")
        assert page.status_code == 200
        assert 'button type="button" class="replay"' not in page.text
        assert "read-only" in page.text
        letter = page.text.split('data-letter="', 1)[1].split('"', 1)[0]
        denied = client.post(f"/console/replay/{letter}")
        assert denied.status_code == 401
        wrong = httpx.get(api.base + "/console", cookies={"newswire_console": "nope"}, timeout=30)
        assert wrong.status_code == 401 and 'name="token"' in wrong.text
    assert os.path.exists(api.log)
