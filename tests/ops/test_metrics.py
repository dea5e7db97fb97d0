"""/metrics: valid Prometheus text, computed from Redis and the database at scrape time."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from shared import dispatch, queues
from testkit.factories import article_batch, numbered, record_received
from testkit.workers import Broker

ROOT = Path(__file__).resolve().parents[2]


def _scrape() -> tuple[set[str], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    from services.ops.api import router

    app = FastAPI()
    app.include_router(router)
    text = TestClient(app).get("/metrics").text
    names: set[str] = set()
    samples = {}
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.add(family.name + ("_total" if family.type == "counter" else ""))
        for s in family.samples:
            names.add(s.name)
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return names, samples


def test_metrics_from_redis_and_database(broker: Broker) -> None:
    arts = [numbered(i) for i in range(3)]
    record_received(arts)
    dispatch.send(queues.TAG_ARTICLES, article_batch(arts[:2]))
    dispatch.send(queues.TAG_ARTICLES, article_batch(arts[2:]))
    dispatch.send(queues.STORE_ARTICLES, {"schema_version": 1, "articles": []})
    broker.client.hset("newswire:metrics:lag", mapping={"5.0": 2, "60.0": 1, "sum": 70, "count": 3})
    names, m = _scrape()
    assert m[("newswire_queue_messages_waiting", (("queue", "enrich"),))] == 2
    assert m[("newswire_queue_messages_waiting", (("queue", "store"),))] == 1
    assert m[("newswire_queue_messages_reserved", (("queue", "enrich"),))] == 0
    assert m[("newswire_queue_oldest_message_age_seconds", (("queue", "enrich"),))] > 0
    assert m[("newswire_queue_oldest_message_age_seconds", (("queue", "ingest"),))] == 0
    assert m[("newswire_queue_consumers", (("queue", "enrich"),))] == 0
    assert m[("newswire_articles", (("status", "received"),))] == 3
    # Histograms are cumulative.
    assert m[("newswire_end_to_end_lag_seconds_bucket", (("le", "2.0"),))] == 0
    assert m[("newswire_end_to_end_lag_seconds_bucket", (("le", "5.0"),))] == 2
    assert m[("newswire_end_to_end_lag_seconds_bucket", (("le", "60.0"),))] == 3
    assert m[("newswire_end_to_end_lag_seconds_bucket", (("le", "+Inf"),))] == 3
    assert m[("newswire_end_to_end_lag_seconds_sum", ())] == 70

    # Every metric an alert rule uses is exported.
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    used = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\bnewswire_[a-z_]+", rule["expr"])
    }
    assert used and used <= names, used - names


def test_metrics_in_embedded_mode_and_with_broker_down(env: Any, fresh_pg_url: str) -> None:
    env.setenv("NEWSWIRE_DATABASE_URL", fresh_pg_url)
    names, m = _scrape()
    assert m[("newswire_source_up", (("source", "database"),))] == 1
    assert "newswire_queue_messages_waiting" not in names  # no broker, no queues
    env.setenv("NEWSWIRE_BROKER_URL", "redis://127.0.0.1:1/0")
    names, m = _scrape()
    assert m[("newswire_source_up", (("source", "broker"),))] == 0
    assert m[("newswire_source_up", (("source", "database"),))] == 1
