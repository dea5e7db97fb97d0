"""POST /articles: bearer token, one article or a batch, a status per article."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.ingest.api import create_app
from tests.ingest import stories
from tests.ingest.helpers import Sent, Site

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def client(ingest_pg: str, sent: Sent, fetch_env: pytest.MonkeyPatch) -> TestClient:
    fetch_env.setenv("NEWSWIRE_API_TOKEN", TOKEN)
    return TestClient(create_app())


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_is_required(client: TestClient, sent: Sent) -> None:
    article = {"title": "t", "body": stories.body(stories.HARBOUR)}
    assert client.post("/articles", json=article).status_code == 401
    wrong = client.post("/articles", json=article, headers=_auth("nope"))
    assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid token"
    assert sent.messages == []


def test_writes_refused_when_no_token_configured(
    ingest_pg: str, fetch_env: pytest.MonkeyPatch
) -> None:
    fetch_env.delenv("NEWSWIRE_API_TOKEN", raising=False)
    resp = TestClient(create_app()).post("/articles", json={"body": "x"}, headers=_auth())
    assert resp.status_code == 503
    assert "NEWSWIRE_API_TOKEN" in resp.json()["detail"]


def test_one_article(client: TestClient, sent: Sent) -> None:
    resp = client.post(
        "/articles",
        json={
            "title": "Harbour wall to be rebuilt",
            "text": stories.body(stories.HARBOUR),
            "url": "https://gazette.example/harbour?utm_source=api",
            "published_at": "Wed, 06 Dec 2023 09:15:00 +0100",
        },
        headers=_auth(),
    )
    assert resp.status_code == 200
    [result] = resp.json()["results"]
    assert result["status"] == "queued" and len(result["article_id"]) == 32
    [article] = sent.articles()
    assert article["url"] == "https://gazette.example/harbour"
    assert article["published_at"] == "2023-12-06T08:15:00Z"


def test_batch_statuses(client: TestClient, site: Site, sent: Sent) -> None:
    site.add("/frost", stories.page("Frost halves the apple harvest", stories.ORCHARD))
    harbour = stories.body(stories.HARBOUR)
    batch = {
        "articles": [
            {"title": "Harbour", "body": harbour, "url": "https://a.example/h"},
            {"title": "Harbour", "body": harbour, "url": "https://www.a.example/h#c"},
            {
                "title": "Harbour (wire)",
                "body": stories.body(stories.wire_copy(stories.HARBOUR)),
                "url": "https://wire.example/h",
            },
            {"title": "No body"},
            {
                "title": "Bad date",
                "body": "Some text about the harbour.",
                "published": "someday maybe",
            },
            "not an object",
            {"kind": "url", "url": site.url("/frost")},
            {"kind": "url", "url": "file:///etc/passwd"},
        ]
    }
    resp = client.post("/articles", json=batch, headers=_auth())
    assert resp.status_code == 200
    results = resp.json()["results"]
    assert [r["status"] for r in results] == [
        "queued",
        "duplicate",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "queued",
        "rejected",
    ]
    assert results[1]["duplicate_of"] == results[0]["article_id"]
    assert results[1]["reason"] == "url"
    assert results[2]["reason"] == "near_duplicate" and 0.6 <= results[2]["similarity"] < 1
    assert results[3]["reason"].startswith("empty_body")
    assert results[4]["reason"].startswith("bad_date")
    assert results[5]["reason"].startswith("invalid_record")
    assert results[7]["reason"].startswith("bad_url")
    assert resp.json()["summary"] == {"queued": 2, "duplicate": 2, "rejected": 4}
    assert sorted(a["title"] for a in sent.articles()) == [
        "Frost halves the apple harvest",
        "Harbour",
    ]


def test_bad_bodies(client: TestClient) -> None:
    assert client.post("/articles", content=b"{nope", headers=_auth()).status_code == 422
    assert client.post("/articles", json=[], headers=_auth()).status_code == 422
    too_many = [{"body": "x"}] * 501
    assert client.post("/articles", json=too_many, headers=_auth()).status_code == 413
