"""`newswire articles` filters, `newswire export`, and the re-enrichment iterator."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from services.store.queries import iter_article_payloads
from shared import db
from shared.models import RECEIVED, IngestRecord
from shared.schemas import ArticlePayload, utcnow
from testkit.store_corpus import NOW, build_corpus, expected_ids
from tests.store.helpers import write


@pytest.fixture
def stored(env: pytest.MonkeyPatch, sqlite_url: str):
    env.setenv("NEWSWIRE_DATABASE_URL", sqlite_url)
    specs = build_corpus(n=40)
    write(sqlite_url, [s.article() for s in specs])
    return specs


def run(*args: str) -> tuple[int, str, str]:
    from services.entrypoints.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_articles_command_takes_the_api_filters(stored):
    f = {"country": ["IQ"], "since": NOW - timedelta(days=10)}
    code, out, _ = run(
        "articles",
        "--country",
        "iq",
        "--since",
        (NOW - timedelta(days=10)).isoformat(),
        "--json",
        "--limit",
        "500",
    )
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == expected_ids(stored, f)
    code, out, _ = run("articles", "--entity", "Hezbollah", "--region", "Middle East", "--json")
    assert [json.loads(x)["id"] for x in out.splitlines()] == expected_ids(
        stored, {"entity": ["Hezbollah"], "region": ["Middle East"]}
    )[:20]


def test_articles_command_prints_non_ascii_as_is(env: pytest.MonkeyPatch, sqlite_url: str):
    env.setenv("NEWSWIRE_DATABASE_URL", sqlite_url)
    assert run("articles")[1] == "no articles\n"
    assert run("articles", "--json")[1] == ""
    spec = build_corpus(n=1)[0]
    spec.title = "Erdoğan à Bagdad — حوار"
    write(sqlite_url, [spec.article()])
    code, out, _ = run("articles", "--json")
    assert code == 0
    assert spec.title in out  # not \u-escaped: JSON lines as readable as the table
    assert json.loads(out)["title"] == spec.title


def test_articles_command_refuses_a_bad_filter(stored):
    from services.entrypoints.cli import cli

    result = CliRunner().invoke(cli, ["articles", "--country", "Iraq"])
    assert result.exit_code == 2
    assert "--country" in result.output and "ISO 3166-1 alpha-2" in result.output


@pytest.mark.parametrize(
    ("command", "value"),
    [
        ("articles", "9999-12-31T23:59:59-14:00"),  # past year 9999 in UTC
        ("articles", "0001-01-01T00:00:00+14:00"),  # before year 1 in UTC
        ("articles", "100000000000d"),  # an age longer than timedelta holds
        ("stories", "9999-12-31T23:59:59-14:00"),
        ("export", "100000000000d"),
    ],
)
def test_a_date_out_of_range_is_a_usage_error_not_a_traceback(stored, command: str, value: str):
    from services.entrypoints.cli import cli

    result = CliRunner().invoke(cli, [command, "--since", value])
    assert result.exit_code == 2, result.output
    assert "--since" in result.output and "is not a date" in result.output


def test_export_jsonl(stored, tmp_path):
    target = tmp_path / "out.jsonl"
    code, _, err = run("export", "--format", "jsonl", "--label", "PERSON", "-o", str(target))
    assert code == 0
    rows = [json.loads(x) for x in target.read_text().splitlines()]
    assert [r["id"] for r in rows] == expected_ids(stored, {"label": "PERSON"})
    assert all(r["body"] and r["entities"] for r in rows)
    assert f"exported {len(rows)} articles" in err


def test_export_csv_to_stdout(stored):
    code, out, _ = run("export", "--format", "csv", "--country", "IQ,TR", "--no-body")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in rows] == expected_ids(stored, {"country": ["IQ", "TR"]})
    iq_tr = next(r for r in rows if r["id"] == "iq-tr")
    assert set(iq_tr["countries"].split()) == {"IQ", "TR"}
    assert iq_tr["focus_countries"] and iq_tr["people"] == "Recep Tayyip Erdogan"
    assert iq_tr["body"] == ""


def test_export_limit_and_order(stored):
    code, out, _ = run("export", "--order", "asc", "--limit", "5")
    assert code == 0
    ids = [json.loads(x)["id"] for x in out.splitlines()]
    assert ids == list(reversed(expected_ids(stored, {})))[:5]


def test_iter_article_payloads(sqlite_url: str):
    specs = build_corpus(n=25)
    arts = [s.article() for s in specs]
    for a in arts[:10]:
        a.enrichment.tagger_version = "2.0"
    with db.session_scope(sqlite_url) as s:
        s.add(
            IngestRecord(
                article_id=arts[10].id,
                trace_id="t",
                status=RECEIVED,
                content_hash="h",
                payload={"id": arts[10].id, "source_country": "LB"},
                received_at=utcnow(),
            )
        )
    write(sqlite_url, arts)
    with db.session_scope(sqlite_url) as session:
        everything = list(iter_article_payloads(session, batch=4))
        old = list(iter_article_payloads(session, before_version="2.0", batch=7))
        recent = list(iter_article_payloads(session, since=NOW - timedelta(days=3)))
    assert sorted(p["id"] for p in everything) == sorted(a.id for a in arts)
    assert len({p["id"] for p in everything}) == len(everything)
    assert {p["id"] for p in old} == {a.id for a in arts[10:]}
    assert {p["id"] for p in recent} == {
        s.id for s in specs if s.dated_at >= NOW - timedelta(days=3)
    }
    by_id = {p["id"]: p for p in everything}
    payload = ArticlePayload.model_validate(by_id[arts[10].id])
    assert payload.source_country == "LB"
    assert payload.body == specs[10].body and payload.trace_id == arts[10].trace_id
    assert "entities" not in by_id[arts[0].id]
