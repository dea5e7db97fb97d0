"""The console without a browser, on the embedded default (SQLite, no broker): every
section renders from the same data the API serves, filters narrow it, tokens gate it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.ops import console
from testkit.stock import stock


@pytest.fixture
def embedded(env: Any, sqlite_url: str) -> TestClient:
    env.setenv("NEWSWIRE_DATABASE_URL", sqlite_url)
    env.setattr(console, "CACHE_S", 0.0)  # every request computes afresh
    stock(sqlite_url, datetime.now(UTC))
    from services.entrypoints.api import create_app

    return TestClient(create_app())


def test_console_on_sqlite_shows_what_the_api_shows(embedded: TestClient) -> None:
    page = embedded.get("/console")
    assert page.status_code == 200
    html = page.text
    assert "broker none (embedded)" in html
    rows = re.findall(r'<tr data-source="([^"]+)"', html)
    api = embedded.get("/sources").json()["sources"]
    assert rows == [s["id"] for s in api] == ["Quiet Daily", "Sloppy Times", "Steady Wire"]
    assert "quiet: last article 2.0d ago, usually one every 2.0h" in html
    assert "extraction: share with date fell from 100% to 0% in the last day" in html
    sloppy = next(s for s in api if s["id"] == "Sloppy Times")
    assert sloppy["quality"]["recent"] == {
        "articles": 24,
        "with_date": 0.0,
        "with_author": 0.0,
        "with_body": 0.0,
    }
    # News, last 7 days: the three countries, biggest first, as the API counts them.
    countries = re.findall(r'class="country" data-code="([A-Z]{2})"', html)
    assert countries == ["BR", "DE", "IQ"]
    entity_page = embedded.get("/console", params={"entity": "Olaf Scholz"})
    listed = set(re.findall(r'<span class="src">([^<]+)</span>', entity_page.text))
    assert listed == {"Quiet Daily"}
    country_page = embedded.get("/console", params={"country": "iq", "period": "30d"})
    assert set(re.findall(r'<span class="src">([^<]+)</span>', country_page.text)) == {
        "Steady Wire"
    }
    assert 'id="filter-country"' in country_page.text
    # A period that ends before any article: nothing, and said so.
    old = embedded.get("/console", params={"end": "2020-01-31"})
    assert "No articles in this period" in old.text
    svg = embedded.get("/console/map.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert 'class="br country map-element' in svg.text
    assert "<script src" not in svg.text and "cdn" not in svg.text.lower()
    # No write token configured: nobody replays (as the API refuses writes).
    assert embedded.post("/console/replay/1").status_code == 503
    part = embedded.get("/console", params={"part": "pipeline"})
    assert part.text.lstrip().startswith("<h2>Pipeline") and "<html" not in part.text


def test_tokens_gate_the_console(embedded: TestClient, env: Any) -> None:
    env.setenv("NEWSWIRE_API_READ_TOKEN", "r-token")
    env.setenv("NEWSWIRE_API_TOKEN", "w-token")
    client = TestClient(embedded.app, follow_redirects=False)
    assert client.get("/console").status_code == 401
    assert client.get("/console/map.svg").status_code == 401
    bad = client.post("/console/login", content="token=nope")
    assert bad.status_code == 401 and "not valid" in bad.text
    good = client.post("/console/login", content="token=r-token")
    assert good.status_code == 303 and good.headers["location"] == "/console"
    assert client.get("/console").status_code == 200  # the cookie
    assert client.post("/console/replay/1").status_code == 401  # read token: no replay
    evil = client.post("/console/replay/1", headers={"Origin": "https://elsewhere.example"})
    assert evil.status_code == 403
    client.cookies.clear()
    header = client.get("/console", headers={"Authorization": "Bearer w-token"})
    assert header.status_code == 200 and "read-only" not in header.text
