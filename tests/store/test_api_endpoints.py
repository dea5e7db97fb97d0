"""Detail, aggregates, errors, tokens, health and optional routers of the HTTP API."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from shared import db
from shared.models import DUPLICATE, RECEIVED, IngestRecord
from shared.schemas import utcnow
from testkit.api import make_client
from testkit.store_corpus import NOW, Spec, build_corpus, matches
from tests.store.helpers import write


@pytest.fixture(scope="module")
def client(corpus_url: str) -> TestClient:
    return make_client(corpus_url)


def _iso(dt: Any) -> str:
    return dt.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- detail


def test_article_detail_has_tags_provenance_and_duplicates(sqlite_url: str):
    spec = build_corpus(n=0)[0]
    with db.session_scope(sqlite_url) as s:
        s.add(
            IngestRecord(
                article_id=spec.id,
                trace_id="trace-" + spec.id,
                status=RECEIVED,
                content_hash="x",
                origin="feeds/wire.xml",
                received_at=utcnow(),
            )
        )
        for n, sim in (("dup-1", 1.0), ("dup-2", 0.93)):
            s.add(
                IngestRecord(
                    article_id=n,
                    trace_id=n,
                    status=DUPLICATE,
                    content_hash="y",
                    canonical_url=f"https://mirror.test/{n}",
                    duplicate_of=spec.id,
                    similarity=sim,
                    received_at=utcnow(),
                )
            )
    write(sqlite_url, [spec.article()])
    client = make_client(sqlite_url)
    body = client.get(f"/articles/{spec.id}").json()
    assert body["body"] == spec.body
    assert {(e["canonical"], e["label"], e["count"]) for e in body["entities"]} == set(
        spec.entities
    )
    assert [c["code"] for c in body["countries"]] == ["LB"]
    assert body["provenance"]["tagger_version"] == "1.0"
    assert body["provenance"]["enrichment"]["tagger"] == "test"
    assert body["provenance"]["ingest"]["status"] == "stored"  # marked by the store
    assert body["provenance"]["ingest"]["origin"] == "feeds/wire.xml"
    assert [(d["id"], d["similarity"]) for d in body["duplicates"]] == [
        ("dup-1", 1.0),
        ("dup-2", 0.93),
    ]
    assert body["duplicates"][0]["url"] == "https://mirror.test/dup-1"


def test_unknown_article_is_404_with_reason(client: TestClient):
    r = client.get("/articles/nope")
    assert r.status_code == 404
    assert r.json()["message"] == "no article with id 'nope'"
    assert r.json()["detail"] == r.json()["message"]


# ---------------------------------------------------------------- aggregates


def test_top_entities(client: TestClient, corpus: list[Spec]):
    f = {"country": ["IQ"], "since": NOW - timedelta(days=10)}
    mentions: Counter[tuple[str, str]] = Counter()
    articles: Counter[tuple[str, str]] = Counter()
    for s in corpus:
        if matches(s, f):
            for n, lab, c in s.entities:
                if lab == "PERSON":
                    mentions[(n, lab)] += c
                    articles[(n, lab)] += 1
    want = sorted(mentions, key=lambda k: (-mentions[k], -articles[k], k[0]))
    r = client.get(
        "/entities", params={"country": "IQ", "since": _iso(f["since"]), "label": "PERSON"}
    )
    assert r.status_code == 200, r.text
    got = r.json()["entities"]
    assert [(e["name"], e["label"]) for e in got] == want
    assert [e["mentions"] for e in got] == [mentions[k] for k in want]
    assert [e["articles"] for e in got] == [articles[k] for k in want]
    assert len(want) >= 2


def test_top_entities_in_a_region_with_limit(client: TestClient, corpus: list[Spec]):
    mentions: Counter[str] = Counter()
    for s in corpus:
        if matches(s, {"region": ["middle-east"]}):
            for n, _, c in s.entities:
                mentions[n] += c
    r = client.get("/entities", params={"region": "middle-east", "limit": 3})
    got = r.json()["entities"]
    assert len(got) == 3
    assert [e["mentions"] for e in got] == sorted(mentions.values(), reverse=True)[:3]


def _bucket_counts(corpus: list[Spec], since: Any, key: Any) -> dict[tuple[str, str], int]:
    out: Counter[tuple[str, str]] = Counter()
    for s in corpus:
        if s.dated_at >= since:
            day = s.dated_at.replace(hour=0, minute=0, second=0, microsecond=0)
            for k in key(s):
                out[(k, _iso(day))] += 1
    return dict(out)


def test_country_counts_per_day(client: TestClient, corpus: list[Spec]):
    since = NOW - timedelta(days=5)
    r = client.get("/countries", params={"since": _iso(since), "bucket": "day"})
    assert r.status_code == 200, r.text
    got = {
        (s["code"], b["start"].replace("+00:00", "Z")): b["articles"]
        for s in r.json()["series"]
        for b in s["buckets"]
    }
    assert got == _bucket_counts(corpus, since, lambda s: [c for c, _ in s.countries])
    totals = [s["total"] for s in r.json()["series"]]
    assert totals == sorted(totals, reverse=True)


@pytest.mark.parametrize("path", ["/countries", "/regions"])
@pytest.mark.parametrize("days_back", [2, 4000])  # last week's counts; years before the corpus
def test_counts_with_until_alone_cover_the_week_before_it(
    client: TestClient, corpus: list[Spec], path: str, days_back: int
):
    """Without since, the window is the 7 days before until (the 7 days before today
    could start after until: an empty answer, or a day of it, with no error)."""
    until = NOW - timedelta(days=days_back)
    r = client.get(path, params={"until": _iso(until), "bucket": "day"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["since"] == (until - timedelta(days=7)).isoformat()
    counted = sum(s["total"] for s in body["series"])
    window = [s for s in corpus if until - timedelta(days=7) <= s.dated_at < until]
    assert bool(window) == (days_back == 2)  # the corpus has articles in the first only
    assert (counted > 0) == bool(window)


def test_region_counts_per_week(client: TestClient, corpus: list[Spec]):
    since = NOW - timedelta(days=20)
    r = client.get("/regions", params={"since": _iso(since), "bucket": "week"})
    series = {s["code"]: s for s in r.json()["series"]}
    want: Counter[str] = Counter()
    for s in corpus:
        if s.dated_at >= since:
            for _, code, _ in s.regions:
                want[code] += 1
    assert {code: s["total"] for code, s in series.items()} == dict(want)
    for s in series.values():
        for b in s["buckets"]:  # weeks start on Monday, 00:00 UTC
            assert b["start"].endswith("T00:00:00+00:00")
            from datetime import datetime

            assert datetime.fromisoformat(b["start"]).weekday() == 0
    assert series["middle-east"]["name"] == "Middle East"
    assert series["middle-east"]["scheme"] == "group"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"limit": "0"}, "limit", "greater than or equal to 1"),
        ({"limit": "201"}, "limit", "less than or equal to 200"),
        ({"limit": "ten"}, "limit", "valid integer"),
        ({"country": "Iraq"}, "country", "ISO 3166-1 alpha-2"),
        ({"focus_country": "1Q"}, "focus_country", "ISO 3166-1 alpha-2"),
        ({"since": "last tuesday"}, "since", "not a date"),
        ({"until": "2026-13-45"}, "until", "not a date"),
        ({"since": "2026-11-20", "until": "2026-11-10"}, "until", "later than since"),
        ({"cursor": "garbage!"}, "cursor", "not a cursor"),
        ({"order": "sideways"}, "order", "'desc' or 'asc'"),
        ({"q": "x" * 600}, "q", "at most 500 characters"),
    ],
)
def test_bad_parameters_get_422_with_a_reason(
    client: TestClient, params: dict[str, str], field: str, words: str
):
    r = client.get("/articles", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_request"
    assert body["message"].startswith(f"{field}: ")
    assert words in body["message"]
    assert body["detail"][0]["loc"][-1] == field


def test_cursor_of_the_other_order_is_refused(client: TestClient):
    cursor = client.get("/articles", params={"limit": 2}).json()["next_cursor"]
    r = client.get("/articles", params={"limit": 2, "cursor": cursor, "order": "asc"})
    assert r.status_code == 422
    assert "order=desc" in r.json()["message"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/articles", "source"),
        ("/articles", "since"),
        ("/articles", "limit"),
        ("/stories", "sort"),
        ("/entities", "label"),
        ("/countries", "bucket"),
    ],
)
def test_a_one_value_parameter_given_twice_is_422_naming_it(
    client: TestClient, path: str, field: str
):
    """source=A&source=B is not 'either source': it was read as source=B alone."""
    values = {
        "source": ["Wire One", "Wire Two"],
        "since": ["2026-11-20", "2026-11-01"],
        "limit": ["1", "2"],
        "sort": ["size", "growth"],
        "label": ["PERSON", "ORG"],
        "bucket": ["day", "week"],
    }[field]
    r = client.get(path, params=[(field, v) for v in values])
    assert r.status_code == 422, r.text
    assert r.json()["message"] == f"{field}: given 2 times; it takes one value"
    assert r.json()["detail"][0]["loc"] == ["query", field]
    # parameters documented as repeatable still are
    repeated = client.get(path, params=[("region", "145"), ("region", "middle-east")])
    assert repeated.status_code == 200, repeated.text


def test_an_unencoded_plus_in_a_date_gets_a_hint(client: TestClient):
    # what curl or a browser sends for ?since=2026-11-20T08:00:00+01:00 typed as is
    r = client.get("/articles?since=2026-11-20T08:00:00+01:00")
    assert r.status_code == 422
    message = r.json()["message"]
    assert message.startswith("since: '2026-11-20T08:00:00 01:00' is not a date")
    assert "%2B" in message
    # encoded, it is read
    assert client.get("/articles?since=2026-11-20T08:00:00%2B01:00").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/stories", "GET"),
        ("DELETE", "/entities", "GET"),
        ("PUT", "/articles", "GET, POST"),  # the store's GET and the ingest router's POST
    ],
)
def test_405_lists_the_methods_of_the_path(client: TestClient, method: str, path: str, allow: str):
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.headers["Allow"] == allow


def _forged(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        # dates that leave Python's range once moved to UTC
        ("/articles", {"cursor": _forged("9999-12-31T23:59:59-14:00", "x", "desc")}),
        ("/articles", {"cursor": _forged("0001-01-01T00:00:00+14:00", "x", "asc"), "order": "asc"}),
        # numbers no database column holds, or that no listing writes
        ("/stories", {"cursor": _forged("size", 10**30, 5), "sort": "size"}),
        ("/stories", {"cursor": _forged("size", -(2**63) - 1, 5), "sort": "size"}),
        ("/stories", {"cursor": _forged("recency", "2026-11-25T00:00:00+00:00", 2**63)}),
        ("/stories", {"cursor": _forged("growth", float("nan"), 5), "sort": "growth"}),
        ("/stories", {"cursor": _forged("growth", float("inf"), 5), "sort": "growth"}),
    ],
)
def test_forged_cursor_out_of_range_is_422_not_500(
    corpus_url: str, path: str, params: dict[str, str]
):
    client = TestClient(make_client(corpus_url).app, raise_server_exceptions=False)
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert r.json()["message"] == "cursor: not a cursor returned by this API"


def test_bad_bucket_on_aggregates(client: TestClient):
    r = client.get("/countries", params={"bucket": "decade"})
    assert r.status_code == 422
    assert r.json()["message"].startswith("bucket: ")


def test_openapi_lists_the_endpoints(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/articles", "/articles/{article_id}", "/entities", "/countries", "/regions"):
        assert "get" in paths[p]
    assert client.get("/docs").status_code == 200


# ---------------------------------------------------------------- tokens


def test_read_token(env: pytest.MonkeyPatch, sqlite_url: str):
    env.setenv("NEWSWIRE_API_READ_TOKEN", "reader-secret")
    env.setenv("NEWSWIRE_API_TOKEN", "writer-secret")
    client = make_client(sqlite_url)
    r = client.get("/articles")
    assert r.status_code == 401
    assert "Bearer" in r.json()["message"]
    assert r.headers["www-authenticate"] == "Bearer"
    bad = client.get("/articles", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["message"] == "the bearer token is not valid for reading"
    for token in ("reader-secret", "writer-secret"):
        ok = client.get("/articles", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
    assert client.get("/entities").status_code == 401
    assert client.get("/articles/x").status_code == 401


def test_reads_are_open_without_a_read_token(env: pytest.MonkeyPatch, sqlite_url: str):
    env.setenv("NEWSWIRE_API_TOKEN", "writer-secret")
    assert make_client(sqlite_url).get("/articles").status_code == 200


def test_write_token(env: pytest.MonkeyPatch):
    from shared.auth import require_write

    env.setenv("NEWSWIRE_API_TOKEN", "writer-secret")
    env.setenv("NEWSWIRE_API_READ_TOKEN", "reader-secret")
    app = FastAPI()

    @app.post("/w", dependencies=[Depends(require_write)])
    def w() -> dict[str, bool]:
        return {"ok": True}

    c = TestClient(app)
    assert c.post("/w").status_code == 401
    assert c.post("/w", headers={"Authorization": "Bearer reader-secret"}).status_code == 401
    assert c.post("/w", headers={"Authorization": "Bearer writer-secret"}).status_code == 200


# ---------------------------------------------------------------- health


def test_health_ok_with_database_and_broker(env: pytest.MonkeyPatch, pg_url: str, redis_url: str):
    from services.entrypoints.api import create_app

    env.setenv("NEWSWIRE_DATABASE_URL", pg_url)
    env.setenv("NEWSWIRE_BROKER_URL", redis_url)
    r = TestClient(create_app()).get("/health")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_health_reports_what_is_down(env: pytest.MonkeyPatch, pg_url: str):
    from services.entrypoints.api import create_app

    env.setenv("NEWSWIRE_DATABASE_URL", pg_url)
    env.setenv("NEWSWIRE_BROKER_URL", "redis://127.0.0.1:1/0")
    r = TestClient(create_app()).get("/health")
    assert r.status_code == 503
    assert r.json()["database"] == "ok"
    assert r.json()["broker"].startswith("unreachable")
    env.setenv("NEWSWIRE_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    env.delenv("NEWSWIRE_BROKER_URL")
    from shared.settings import reset_settings

    reset_settings()
    r = TestClient(create_app()).get("/health")
    assert r.status_code == 503
    assert r.json()["database"].startswith("unreachable")


def test_embedded_api_creates_its_sqlite_schema_at_startup(env: pytest.MonkeyPatch, tmp_path):
    from services.entrypoints.api import create_app

    env.setenv("NEWSWIRE_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    with TestClient(create_app()) as c:
        r = c.get("/articles")
    assert r.status_code == 200
    assert r.json()["articles"] == []
