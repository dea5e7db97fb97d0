"""Every filter and combinations of them return exactly the right articles, in order,
on PostgreSQL and on SQLite, for a corpus whose answers we know."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from testkit.api import make_client
from testkit.store_corpus import (
    COUNTRIES,
    KEYWORDS,
    LANGUAGES,
    NOW,
    ORGS,
    PEOPLE,
    PLACES,
    SOURCES,
    Spec,
    expected_ids,
)

REGION_VALUES = ["145", "middle-east", "Middle East", "western asia", "eu", "South America"]
WHEN = {
    "since": [NOW - timedelta(days=7), NOW - timedelta(days=3), NOW - timedelta(hours=12)],
    "until": [NOW - timedelta(days=3), NOW - timedelta(days=1)],
}


def _params(f: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in f.items():
        if isinstance(value, list):
            out.extend((key, v) for v in value)
        elif key in ("since", "until"):
            out.append((key, value.isoformat().replace("+00:00", "Z")))
        else:
            out.append((key, value))
    return out


def fetch_all(client: TestClient, f: dict[str, Any], limit: int = 7) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        params = _params(f) + [("limit", str(limit))]
        if cursor:
            params.append(("cursor", cursor))
        r = client.get("/articles", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        ids.extend(a["id"] for a in body["articles"])
        cursor = body["next_cursor"]
        if not cursor:
            return ids
    raise AssertionError("pagination did not end")


SINGLE: list[dict[str, Any]] = (
    [{"entity": [e]} for e in PEOPLE + ORGS + PLACES]
    + [{"entity": ["hezbollah"]}, {"entity": ["Nobody Known"]}]
    + [{"label": lab} for lab in ("PERSON", "ORG", "GPE", "NORP")]
    + [{"country": [c]} for c in COUNTRIES]
    + [{"country": ["iq"]}, {"focus_country": ["IQ"]}, {"focus_country": ["LB"]}]
    + [{"region": [r]} for r in REGION_VALUES]
    + [{"source": s} for s in SOURCES]
    + [{"language": lang} for lang in sorted(set(LANGUAGES))]
    + [{"since": w} for w in WHEN["since"]]
    + [{"until": w} for w in WHEN["until"]]
    + [{"q": k} for k in KEYWORDS]
)

HANDPICKED: list[dict[str, Any]] = [
    # Every story about Hezbollah in the Middle East this week.
    {"entity": ["Hezbollah"], "region": ["middle-east"], "since": NOW - timedelta(days=7)},
    # Every article that mentions both Iraq and Turkey.
    {"country": ["IQ", "TR"]},
    {"entity": ["Hezbollah", "Hassan Nasrallah"]},
    {"entity": ["Hezbollah"], "label": "ORG"},
    {"entity": ["Hezbollah"], "label": "PERSON"},
    {"q": "quarry", "country": ["TR"]},
    {"since": NOW - timedelta(days=7), "until": NOW - timedelta(days=3)},
]


def random_combos(n: int, seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    choices: dict[str, Any] = {
        "entity": lambda: [rng.choice(PEOPLE + ORGS + PLACES)],
        "label": lambda: rng.choice(["PERSON", "ORG", "GPE"]),
        "country": lambda: rng.sample(sorted(COUNTRIES), rng.randint(1, 2)),
        "focus_country": lambda: [rng.choice(sorted(COUNTRIES))],
        "region": lambda: [rng.choice(REGION_VALUES)],
        "source": lambda: rng.choice(SOURCES),
        "language": lambda: rng.choice(["en", "de", "fr"]),
        "since": lambda: rng.choice(WHEN["since"]),
        "until": lambda: rng.choice(WHEN["until"]),
        "q": lambda: rng.choice(KEYWORDS),
    }
    combos = []
    while len(combos) < n:
        keys = rng.sample(sorted(choices), rng.randint(2, 4))
        f = {k: choices[k]() for k in keys}
        if "since" in f and "until" in f and f["since"] >= f["until"]:
            continue
        combos.append(f)
    return combos


COMBOS = random_combos(60)


@pytest.fixture(scope="module")
def client(corpus_url: str) -> TestClient:
    return make_client(corpus_url)


def test_no_filter_returns_everything_newest_first(client: TestClient, corpus: list[Spec]):
    assert fetch_all(client, {}, limit=200) == expected_ids(corpus, {})
    assert fetch_all(client, {}, limit=9) == expected_ids(corpus, {})


@pytest.mark.parametrize("f", SINGLE, ids=lambda f: repr(f)[:60])
def test_single_filter(client: TestClient, corpus: list[Spec], f: dict[str, Any]):
    want = expected_ids(corpus, f)
    assert fetch_all(client, f) == want


def test_single_filters_are_not_trivial(corpus: list[Spec]):
    """The corpus exercises the filters: most match some but not all articles."""
    sizes = [len(expected_ids(corpus, f)) for f in SINGLE]
    assert sum(1 for s in sizes if 0 < s < len(corpus)) >= len(SINGLE) - 3


@pytest.mark.parametrize("f", HANDPICKED + COMBOS, ids=lambda f: repr(f)[:80])
def test_combined_filters(client: TestClient, corpus: list[Spec], f: dict[str, Any]):
    assert fetch_all(client, f) == expected_ids(corpus, f)


def test_the_questions_users_come_for(client: TestClient, corpus: list[Spec]):
    week = (NOW - timedelta(days=7)).isoformat()
    r = client.get(
        "/articles", params={"entity": "Hezbollah", "region": "Middle East", "since": week}
    )
    ids = [a["id"] for a in r.json()["articles"]]
    assert "hez-week" in ids and "hez-old" not in ids
    r = client.get("/articles", params=[("country", "IQ"), ("country", "TR")])
    ids = [a["id"] for a in r.json()["articles"]]
    assert "iq-tr" in ids
    assert all({"IQ", "TR"} <= {c["code"] for c in a["countries"]} for a in r.json()["articles"])


def test_ascending_order(client: TestClient, corpus: list[Spec]):
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"order": "asc", "limit": 11, "country": "DE"}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/articles", params=params).json()
        ids += [a["id"] for a in body["articles"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert ids == list(reversed(expected_ids(corpus, {"country": ["DE"]})))


def test_listing_shape(client: TestClient, corpus: list[Spec]):
    body = client.get("/articles", params={"entity": "hezbollah", "limit": 200}).json()
    art = next(a for a in body["articles"] if a["id"] == "hez-week")
    assert "body" not in art or art["body"] is None
    assert art["snippet"].startswith("Hezbollah leader")
    assert {e["canonical"] for e in art["entities"]} == {"Hezbollah", "Hassan Nasrallah"}
    assert art["countries"] == [
        {"code": "LB", "name": "Lebanon", "mentions": 1, "via": ["gazetteer"], "focus": True}
    ]
    assert {r["code"] for r in art["regions"]} == {"145", "middle-east"}
    assert body["filters"] == {"entity": ["hezbollah"]}
    params = {"entity": "hezbollah", "include_body": True, "limit": 200}
    full = client.get("/articles", params=params).json()
    by_id = {a["id"]: a for a in full["articles"]}
    assert by_id["hez-week"]["body"] == "Hezbollah leader Hassan Nasrallah spoke in Beirut."
