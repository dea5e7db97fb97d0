"""The foundation's promises on the embedded default and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.db import normalize_url, session_scope
from shared.schemas import RawItem

ROOT = Path(__file__).resolve().parents[2]


def newswire(*args: str, env: dict[str, str], stdin: str | None = None, cwd: Path = ROOT):
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", *args],
        cwd=cwd,
        env=full,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def count(url: str, sql: str) -> int:
    engine = sa.create_engine(normalize_url(url))
    with engine.connect() as conn:
        value = conn.scalar(sa.text(sql))
    engine.dispose()
    return int(value)


def test_make_run_flow_stores_samples_in_sqlite(tmp_path: Path):
    """`newswire ingest samples/` then `newswire articles --json`, with no broker."""
    env = {"NEWSWIRE_DATABASE_URL": f"sqlite:///{tmp_path / 'nw.db'}"}
    first = newswire("ingest", "samples/", env=env)
    assert first.returncode == 0, first.stderr
    assert "6 stored" in first.stdout
    listed = newswire("articles", "--json", "--limit", "100", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == 6
    english = [r for r in rows if r["enrichment"]["status"] == "ok"]
    assert len(english) == 5
    for r in english:
        assert r["entities"] and r["countries"], r["title"]
        assert r["enrichment"]["tagger_version"] and r["enrichment"]["model_version"]
        for e in r["entities"]:
            for s, t in e["spans"]:
                # Each span is a mention of this entity: its text, or a short form of its
                # name (a later "Blinken" for "Antony Blinken").
                mention = r["body"][s:t]
                names = set((e["text"] + " " + e["canonical"]).casefold().split())
                assert mention == e["text"] or (
                    mention.strip() == mention != "" and set(mention.casefold().split()) <= names
                ), (e, mention)
    other = [r for r in rows if r["enrichment"]["status"] != "ok"]
    # the Russian sample: countries and regions from the Russian name table, no full NER
    assert other[0]["enrichment"]["status"] == "countries_only"
    assert other[0]["language"] == "ru"
    assert "RU" in {c["code"] for c in other[0]["countries"]} and other[0]["regions"]

    # Ingesting the same files again leaves one row per article.
    again = newswire("ingest", "samples/", env=env)
    assert again.returncode == 0, again.stderr
    assert "6 duplicate" in again.stdout
    assert count(env["NEWSWIRE_DATABASE_URL"], "select count(*) from articles") == 6

    # Filters of the foundation CLI.
    iq = newswire("articles", "--json", "--country", "IQ", env=env)
    assert [json.loads(x)["title"] for x in iq.stdout.splitlines()] == [
        "US and Iraq discuss security as militia warns of escalation"
    ]


def test_malformed_file_is_named_and_other_files_still_stored(tmp_path: Path):
    good = tmp_path / "in" / "good.txt"
    good.parent.mkdir()
    good.write_text("2024-05-01\n\nFloods hit Kenya\n\nHeavy rain caused floods in Nairobi.\n")
    bad = tmp_path / "in" / "broken.jsonl"
    bad.write_text('{"title": "ok", "body": "Fine text about Paris."}\n{not json\n')
    binary = tmp_path / "in" / "garbage.txt"
    binary.write_bytes(b"\xff\xfe\x00\x00" * 10 + os.urandom(200))
    env = {"NEWSWIRE_DATABASE_URL": f"sqlite:///{tmp_path / 'nw.db'}"}
    run = newswire("ingest", str(tmp_path / "in"), env=env)
    assert run.returncode == 1, run.stderr  # some rejected (issue 12: exit codes)
    assert f"{bad}:2" in run.stdout + run.stderr
    assert "invalid JSON Lines record" in run.stdout + run.stderr
    titles = {
        json.loads(x)["title"] for x in newswire("articles", "--json", env=env).stdout.splitlines()
    }
    assert {"Floods hit Kenya", "ok"} <= titles


def test_missing_path_is_a_clear_error(tmp_path: Path):
    env = {"NEWSWIRE_DATABASE_URL": f"sqlite:///{tmp_path / 'nw.db'}"}
    run = newswire("ingest", str(tmp_path / "nope.jsonl"), env=env)
    assert run.returncode == 2  # nothing usable (issue 12: exit codes)
    assert "no such file or directory" in run.stdout + run.stderr


def test_store_message_delivered_twice_leaves_one_row(embedded_pg: str):
    from services.enrich.tasks import enrich_articles
    from services.ingest.prepare import prepare
    from services.store.tasks import store_articles
    from shared.schemas import EnrichedBatch, dump

    article = prepare(
        RawItem(
            title="Talks in Baghdad", body="Antony Blinken met Mohammed Shia al-Sudani in Baghdad."
        )
    )
    message = dump(EnrichedBatch(articles=enrich_articles([article])))
    store_articles.run(message)
    store_articles.run(message)  # redelivery
    assert count(embedded_pg, "select count(*) from articles") == 1
    n_mentions = count(embedded_pg, "select count(*) from article_entities")
    store_articles.run(message)
    assert count(embedded_pg, "select count(*) from article_entities") == n_mentions > 0
    assert count(embedded_pg, "select count(distinct name) from entities") == count(
        embedded_pg, "select count(*) from entities"
    )


def test_same_article_ingested_twice_on_postgres(embedded_pg: str):
    from services.ingest.pipeline import accept

    item = RawItem(
        url="https://news.example.test/story?utm_source=x",
        title="Story",
        body="Officials in Ankara and Baghdad met on Monday.",
    )
    first = accept([item])
    second = accept([item.model_copy(update={"url": "https://www.news.example.test/story"})])
    assert [o.status for o in first] == ["queued"]
    assert [o.status for o in second] == ["duplicate"]
    assert count(embedded_pg, "select count(*) from articles") == 1
    with session_scope() as s:
        from shared.models import IngestRecord

        rec = s.get(IngestRecord, first[0].article_id)
        assert rec.status == "stored" and rec.stored_at is not None


def test_json_logs_carry_trace_and_article_id_through_every_stage(tmp_path: Path):
    env = {
        "NEWSWIRE_DATABASE_URL": f"sqlite:///{tmp_path / 'nw.db'}",
        "NEWSWIRE_LOG_FORMAT": "json",
        "NEWSWIRE_LOG_LEVEL": "INFO",
    }
    run = newswire(
        "--log-format",
        "json",
        "--log-level",
        "INFO",
        "ingest",
        "samples/baghdad-talks.txt",
        env=env,
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in run.stderr.splitlines() if x.startswith("{")]
    stages = [
        x for x in lines if x["event"] in {"article_received", "article_enriched", "article_stored"}
    ]
    assert [x["event"] for x in stages] == [
        "article_received",
        "article_enriched",
        "article_stored",
    ]
    assert len({x["trace_id"] for x in stages}) == 1
    assert len({x["article_id"] for x in stages}) == 1


@pytest.mark.parametrize("bad", ['{"body": 1}', "[1,2]", "not json"])
def test_tag_command_reports_bad_lines_and_keeps_going(bad: str):
    good = json.dumps({"id": "g", "body": "Emmanuel Macron visited Berlin."})
    run = newswire("tag", env={}, stdin=f"{bad}\n{good}\n")
    assert run.returncode == 0, run.stderr
    out = [json.loads(x) for x in run.stdout.splitlines()]
    assert "error" in out[0]
    assert out[1]["id"] == "g"
    assert {c["code"] for c in out[1]["countries"]} >= {"DE"}
