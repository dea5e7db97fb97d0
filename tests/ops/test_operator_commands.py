"""Operator commands through the real ``newswire`` CLI: the options an operator relies on.

Each test runs the command as typed (Click's runner, in this process) against a real
PostgreSQL database, and a real Redis when the command talks to the broker.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text, update

from services.entrypoints.cli import cli
from services.store.tasks import store_batch
from shared import dispatch, queues
from shared.db import session_scope
from shared.models import DeadLetter, IngestRecord
from shared.schemas import EnrichedArticle, utcnow
from testkit import factories
from testkit.factories import numbered, record_received
from testkit.workers import Broker


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_json(*args: str) -> Any:
    """The JSON document a command prints last (log lines may come before it)."""
    return json.loads(run(*args).output.strip().splitlines()[-1])


def _tagged(n: int, version: str, published: datetime) -> EnrichedArticle:
    a = numbered(n)
    a.published_at = published
    return factories.tagged(a, tagger_version=version)


def _queued_articles(broker: Broker, queue: str) -> list[str]:
    ids = []
    for raw in broker.client.lrange(queue, 0, -1):
        args = json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
        ids += [a["id"] for a in args[0]["articles"]]
    return ids


# ---------------------------------------------------------------- reenrich


@pytest.fixture
def tagged(broker: Broker) -> list[EnrichedArticle]:
    """Six stored articles: versions old/old/old/new/new/new, one published per day."""
    day = datetime(2024, 3, 1, tzinfo=UTC)
    arts = [_tagged(n, "old" if n < 3 else "new", day + timedelta(days=n)) for n in range(6)]
    store_batch(arts)
    return arts


def test_reenrich_before_version_since_and_limit(broker: Broker, tagged: list[Any]) -> None:
    assert "6 articles would be" in run("reenrich", "--before-version", "x", "--dry-run").output
    assert "3 articles would be" in run("reenrich", "--before-version", "new", "--dry-run").output
    out = run("reenrich", "--before-version", "new", "--since", "2024-03-02", "--dry-run")
    assert "2 articles would be" in out.output
    out = run("reenrich", "--before-version", "x", "--since", "2024-03-05", "--dry-run")
    assert "2 articles would be" in out.output
    assert (
        "4 articles would be"
        in run("reenrich", "--before-version", "x", "--limit", "4", "--dry-run").output
    )
    assert broker.client.llen(queues.ENRICH) == 0  # a dry run sends nothing


def test_reenrich_queues_only_what_it_selected(broker: Broker, tagged: list[Any]) -> None:
    result = run("reenrich", "--before-version", "new", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "2 articles queued for re-enrichment" in result.output
    assert sorted(_queued_articles(broker, queues.ENRICH)) == [tagged[0].id, tagged[1].id]


def test_reenrich_refuses_a_bad_since(broker: Broker) -> None:
    result = CliRunner().invoke(cli, ["reenrich", "--since", "not a date", "--dry-run"])
    assert result.exit_code == 2 and "--since" in result.output


# ---------------------------------------------------------------- reconcile


def _stale(ids: list[str], **values: Any) -> None:
    with session_scope() as session:
        session.execute(
            update(IngestRecord)
            .where(IngestRecord.article_id.in_(ids))
            .values(last_sent_at=utcnow() - timedelta(hours=2), **values)
        )


def test_reconcile_store_queue_guard_no_guard_and_missing_payloads(broker: Broker) -> None:
    arts = [numbered(n) for n in range(3)]
    record_received(arts)
    # Articles 0 and 1 were enriched and their message waits in `store`: not lost.
    dispatch.send(queues.STORE_ARTICLES, factories.enriched_batch(arts[:2]))
    assert broker.client.llen(queues.STORE) == 1
    _stale([a.id for a in arts[:2]], enriched_at=utcnow())
    # Article 2 lost its payload: it cannot be re-sent, only counted.
    _stale([arts[2].id], payload=None)

    held = run_json("reconcile", "--after", "1")
    assert (held["resent"], held["skipped_no_payload"]) == (0, 1)
    assert set(held["held_back_by"]) == {queues.STORE}
    assert broker.client.llen(queues.ENRICH) == 0

    forced = run_json("reconcile", "--after", "1", "--no-guard")
    assert (forced["resent"], forced["skipped_no_payload"], forced["held_back_by"]) == (2, 1, {})
    assert sorted(_queued_articles(broker, queues.ENRICH)) == sorted(a.id for a in arts[:2])
    with session_scope() as session:
        sends = {r.article_id: r.sends for r in session.scalars(select(IngestRecord))}
    assert sends == {arts[0].id: 2, arts[1].id: 2, arts[2].id: 1}


# ---------------------------------------------------------------- dead letters


def _one_letter() -> int:
    dispatch.send(queues.STORE_ARTICLES, {"schema_version": 1})  # invalid: dead-lettered
    with session_scope() as session:
        (letter_id,) = session.scalars(select(DeadLetter.id))
    return letter_id


def _letter(letter_id: int) -> tuple[str, Any]:
    with session_scope() as session:
        letter = session.get(DeadLetter, letter_id)
        assert letter is not None
        return letter.status, letter.resolved_at


def test_dead_list_command(embedded_pg: str) -> None:
    assert "no dead letters" in run("dead", "list").output
    assert "no dead letters" not in run("dead", "list", "--json").output
    letter_id = _one_letter()
    listed = run("dead", "list", "--json").output.strip().splitlines()
    assert json.loads(listed[-1])["id"] == letter_id
    table = run("dead", "list").output
    assert "no dead letters" not in table
    assert table.strip().splitlines()[-1].split()[:2] == [str(letter_id), "dead"]


def test_dead_replay_keeps_the_letter_open_when_sending_fails(
    embedded_pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    letter_id = _one_letter()

    def broken_send(task: str, payload: dict[str, Any], **_: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(dispatch, "send", broken_send)
    result = CliRunner().invoke(cli, ["dead", "replay", str(letter_id)])
    assert result.exit_code == 1
    assert f"letter {letter_id} not replayed: ConnectionError: broker down" in result.output
    assert _letter(letter_id) == ("dead", None)


def test_dead_discard_command(embedded_pg: str) -> None:
    letter_id = _one_letter()
    refused = CliRunner().invoke(cli, ["dead", "discard"])
    assert refused.exit_code == 1 and "say which letters" in refused.output
    assert _letter(letter_id)[0] == "dead"
    assert "discarded 0 letter(s)" in run("dead", "discard", str(letter_id + 1)).output
    assert "discarded 1 letter(s)" in run("dead", "discard", str(letter_id)).output
    status, resolved_at = _letter(letter_id)
    assert status == "discarded" and resolved_at is not None
    assert "discarded 0 letter(s)" in run("dead", "discard", "--all").output


# ---------------------------------------------------------------- health, db, trace


def test_health_broker(env: pytest.MonkeyPatch, redis_url: str) -> None:
    env.setenv("NEWSWIRE_BROKER_URL", redis_url)
    ok = CliRunner().invoke(cli, ["health", "broker"])
    assert (ok.exit_code, ok.output.strip()) == (0, "broker: pong")
    env.setenv("NEWSWIRE_BROKER_URL", "redis://127.0.0.1:1/0")
    down = CliRunner().invoke(cli, ["health", "broker"])
    assert down.exit_code == 1 and "broker unreachable" in down.output


def test_db_check(embedded_pg: str) -> None:
    ok = CliRunner().invoke(cli, ["db", "check"])
    assert (ok.exit_code, ok.output.strip()) == (0, "models and migrations agree")
    with session_scope() as session:
        session.execute(text("ALTER TABLE ingest_records DROP COLUMN sends"))
    drift = CliRunner().invoke(cli, ["db", "check"])
    assert drift.exit_code == 1 and "sends" in drift.output


def test_trace_unknown_article(embedded_pg: str) -> None:
    result = CliRunner().invoke(cli, ["trace", "no-such-article"])
    assert result.exit_code == 1
    assert "no article 'no-such-article'" in result.output
