"""The deployed API app, as uvicorn serves it: every router really mounted, one token rule.

``create_app()`` is the real factory (no router added by the test): an article posted with
the write token goes through the pipeline (embedded) and comes back from ``GET /articles``
with the read token; ``/metrics`` answers for Prometheus.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

WRITE = "write-token-for-tests"
READ = "read-token-for-tests"
BODY = (
    "The harbour authority of Rotterdam said on Tuesday that the old sea wall will be rebuilt "
    "over the next three years, after storms damaged it twice last winter. Dock workers "
    "welcomed the plan, which the city council approved with a large majority."
)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def app_client(embedded_pg: str, env: pytest.MonkeyPatch) -> TestClient:
    env.setenv("NEWSWIRE_API_TOKEN", WRITE)
    env.setenv("NEWSWIRE_API_READ_TOKEN", READ)
    from services.entrypoints.api import create_app

    return TestClient(create_app())


def test_post_with_write_token_is_stored_and_read_with_read_token(app_client: TestClient):
    article = {"title": "Sea wall to be rebuilt", "body": BODY, "source": "gazette"}
    posted = app_client.post("/articles", json=article, headers=_auth(WRITE))
    assert posted.status_code == 200, posted.text
    assert posted.json()["summary"] == {"queued": 1}
    article_id = posted.json()["results"][0]["article_id"]

    listed = app_client.get("/articles", headers=_auth(READ))
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["articles"]] == [article_id]
    detail = app_client.get(f"/articles/{article_id}", headers=_auth(READ))
    assert detail.status_code == 200
    assert detail.json()["title"] == "Sea wall to be rebuilt"
    # The write token grants reads too.
    assert app_client.get("/articles", headers=_auth(WRITE)).status_code == 200


def test_tokens_are_checked_on_the_real_app(app_client: TestClient):
    article = {"title": "t", "body": BODY}
    assert app_client.post("/articles", json=article).status_code == 401
    assert app_client.post("/articles", json=article, headers=_auth(READ)).status_code == 401
    assert app_client.get("/articles").status_code == 401
    assert app_client.get("/articles", headers=_auth("wrong")).status_code == 401
    assert app_client.get("/articles", headers=_auth(READ)).json()["articles"] == []


def test_metrics_are_mounted(app_client: TestClient):
    resp = app_client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert "newswire_" in resp.text


def test_every_router_is_mounted_explicitly(app_client: TestClient) -> None:
    """No router is found by name at start-up (a renamed module fails the import, loudly):
    each service's routes answer on the real app."""
    for path in ("/articles", "/stories", "/metrics", "/sources", "/console", "/health"):
        assert app_client.get(path, headers=_auth(READ)).status_code != 404, path


def test_writes_refused_when_no_write_token_is_set(embedded_pg: str, env: pytest.MonkeyPatch):
    env.delenv("NEWSWIRE_API_TOKEN", raising=False)
    from services.entrypoints.api import create_app

    client = TestClient(create_app())
    resp = client.post("/articles", json={"title": "t", "body": BODY})
    assert resp.status_code == 503
    assert "NEWSWIRE_API_TOKEN" in resp.json()["message"]
    assert client.get("/articles").status_code == 200  # reads stay open without a read token
