"""Per-source health against a real PostgreSQL: planted problems are found, explained and
served the same way by GET /sources, `newswire sources` and /metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.ingest import health as ingest_health
from services.ops import sources
from testkit.stock import stock
from testkit.workers import child_env, newswire

READ, WRITE = "read-token-for-tests", "write-token-for-tests"


@pytest.fixture
def stocked(env: Any, fresh_pg_url: str) -> Iterator[tuple[str, datetime]]:
    env.setenv("NEWSWIRE_DATABASE_URL", fresh_pg_url)
    env.setenv("NEWSWIRE_API_READ_TOKEN", READ)
    env.setenv("NEWSWIRE_API_TOKEN", WRITE)
    now = datetime.now(UTC)
    stock(fresh_pg_url, now)
    yield fresh_pg_url, now


def _failing_feed() -> int:
    """A feed polled for real: 127.0.0.1 is refused by the fetcher (no network needed)."""
    from services.ingest import feeds

    feed = feeds.add_feed("http://127.0.0.1:9/feed.xml", source="Failing Feed Co", interval=900)
    for _ in range(4):
        assert feeds.poll_feed(feed.id).status == "blocked_address"
    return feed.id


def test_planted_problems_are_found_worst_first(stocked: tuple[str, datetime]) -> None:
    url, now = stocked
    feed_id = _failing_feed()
    # A one-off import of five articles 5 h ago: no habit yet, so not "quiet".
    from services.store.tasks import store_batch
    from testkit.stock import Planted, article

    bulk = [
        article(Planted("Steady Wire", now - timedelta(hours=5), n=8_000_000 + i), prefix="bulk")
        for i in range(5)
    ]
    store_batch([a.model_copy(update={"source": "Bulk Import"}) for a in bulk], url)
    found = sources.health(now=now + timedelta(seconds=5))
    by_id = {h.id: h for h in found}
    assert [h.id for h in found][0] == "Failing Feed Co"
    assert by_id["Steady Wire"].status == "ok", by_id["Steady Wire"].problems
    assert by_id["Quiet Daily"].status == "quiet"
    assert by_id["Sloppy Times"].status == "degraded"
    assert by_id["Bulk Import"].status == "ok" and by_id["Bulk Import"].usual_interval_s is None

    steady = by_id["Steady Wire"]
    # 30 UTC days (today included) hold 116 to 120 of them, depending on the hour.
    assert 116 <= steady.articles_30d == sum(steady.per_day) <= 120
    assert steady.articles_24h == 4
    assert steady.usual_interval_s == pytest.approx(6 * 3600, rel=0.01)
    assert steady.quality["recent"]["with_body"] == 1.0

    quiet = by_id["Quiet Daily"]
    assert quiet.quiet_s is not None and quiet.quiet_s > 2 * 86400
    assert quiet.usual_interval_s == pytest.approx(2 * 3600, rel=0.01)
    assert any(p.startswith("quiet: last article 2.0d ago") for p in quiet.problems)
    assert quiet.per_day[-1] == 0 and quiet.per_day[-1 - 3] > 0

    sloppy = by_id["Sloppy Times"]
    assert sloppy.quality["recent"] == {
        "articles": 24,
        "with_date": 0.0,
        "with_author": 0.0,
        "with_body": 0.0,
    }
    assert sloppy.quality["baseline"]["with_date"] == 1.0
    assert any("with date fell from 100% to 0%" in p for p in sloppy.problems)

    failing = by_id["Failing Feed Co"]
    assert failing.status == "failing"
    feed = failing.feeds[0]
    assert feed["id"] == feed_id and feed["consecutive_failures"] == 4
    assert feed["backoff_s"] == 900 * 8
    polled = datetime.fromisoformat(feed["last_polled_at"])
    next_poll = datetime.fromisoformat(feed["next_poll_at"])
    assert (next_poll - polled).total_seconds() == pytest.approx(900 * 8, abs=2)
    (problem,) = failing.problems
    assert "failed 4 poll(s) in a row" in problem and "non-public address" in problem
    assert "backing off: polled every 2.0h instead of 15m" in problem


def test_backoff_is_capped_and_reset_by_a_success() -> None:
    assert ingest_health.backoff_seconds(900, 0) == 900
    assert ingest_health.backoff_seconds(900, 1) == 900
    assert ingest_health.backoff_seconds(900, 3) == 3600
    assert ingest_health.backoff_seconds(900, 50) == ingest_health.BACKOFF_CAP
    assert ingest_health.backoff_seconds(86400, 9) == 86400  # never below the own interval
    feed = SimpleNamespace(
        consecutive_failures=6, interval_seconds=600, last_success_at=None, failing_since=None
    )
    at = datetime(2026, 12, 1, tzinfo=UTC)
    assert ingest_health.record_poll_health(feed, "http_503", at) == 6 * 3600
    assert feed.failing_since == at
    assert ingest_health.record_poll_health(feed, "not_modified", at) == 600
    assert (feed.consecutive_failures, feed.last_success_at, feed.failing_since) == (0, at, None)


def test_rejections_are_counted_per_source(stocked: tuple[str, datetime]) -> None:
    from services.ingest.tasks import ingest_items

    counts = ingest_items.run(
        {
            "schema_version": 1,
            "items": [
                {"kind": "record", "body": "", "title": "empty", "source": "Rejecty"},
                {"kind": "record", "body": "", "title": "empty too", "source": "Rejecty"},
            ],
        }
    )
    assert counts == {"rejected": 2}
    (rejecty,) = sources.health(source="Rejecty")
    assert rejecty.rejections == {"empty_body": 2}


def test_api_cli_and_metrics_agree(stocked: tuple[str, datetime]) -> None:
    url, _ = stocked
    feed_id = _failing_feed()
    from services.entrypoints.api import create_app

    client = TestClient(create_app())
    assert client.get("/sources").status_code == 401
    assert client.get("/sources", headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": f"Bearer {READ}"}
    listing = client.get("/sources", headers=auth)
    assert listing.status_code == 200
    body = listing.json()
    assert [s["id"] for s in body["sources"]][:1] == ["Failing Feed Co"]
    assert body["counts"] == {"failing": 1, "quiet": 1, "degraded": 1, "ok": 1}
    quiet_only = client.get("/sources?status=quiet", headers=auth).json()["sources"]
    assert [s["id"] for s in quiet_only] == ["Quiet Daily"]
    one = client.get("/sources/" + quote("Quiet Daily"), headers=auth)
    assert one.status_code == 200 and one.json()["status"] == "quiet"
    by_feed = client.get(f"/sources/{feed_id}", headers=auth)
    assert by_feed.status_code == 200 and by_feed.json()["id"] == "Failing Feed Co"
    missing = client.get("/sources/No%20Such%20Paper", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    out = newswire("sources", "--json", env=child_env(NEWSWIRE_DATABASE_URL=url))
    cli = {s["id"]: s for s in json.loads(out.stdout)["sources"]}
    api = {s["id"]: s for s in body["sources"]}
    assert {k: v["status"] for k, v in cli.items()} == {k: v["status"] for k, v in api.items()}
    assert cli["Steady Wire"]["per_day"] == api["Steady Wire"]["per_day"]
    table = newswire("sources", env=child_env(NEWSWIRE_DATABASE_URL=url)).stdout
    assert table.index("Failing Feed Co") < table.index("Quiet Daily") < table.index("Steady")

    metrics = client.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(metrics)
        for s in fam.samples
    }
    assert samples[("newswire_source_unhealthy", (("source", "Quiet Daily"), ("status", "quiet")))]
    key = (
        "newswire_feed_consecutive_failures",
        (("feed_id", str(feed_id)), ("source", "Failing Feed Co")),
    )
    assert samples[key] == 4
    ratio = (
        "newswire_source_extraction_ratio",
        (("measure", "with_date"), ("source", "Sloppy Times"), ("window", "recent")),
    )
    assert samples[ratio] == 0.0
    age = samples[("newswire_source_last_article_age_seconds", (("source", "Quiet Daily"),))]
    assert age == pytest.approx(api["Quiet Daily"]["quiet_s"], abs=120)


def test_a_successful_poll_resets_the_run_and_counts_parse_rejections(
    stocked: tuple[str, datetime],
) -> None:
    from services.ingest import feeds

    feed_id = _failing_feed()
    parsed = feeds.ParsedFeed(
        title="Parsed Co",
        items=[],
        rejected=[("f#0", "empty_item: no link"), ("f#1", "empty_item: no link")],
    )
    at = datetime.now(UTC)
    feeds._record_poll(feed_id, feeds.PollResult(feed_id, "ok"), {}, parsed, at, 900)
    (h,) = sources.health(source=str(feed_id))
    assert h.id == "Failing Feed Co" and h.status == "ok", h.problems
    feed = h.feeds[0]
    assert feed["consecutive_failures"] == 0 and feed["backoff_s"] is None
    assert datetime.fromisoformat(feed["last_success_at"]) == at
    assert h.rejections == {"empty_item": 2}
