"""Text an analyst types into the filters (names with accents in any case, search syntax,
punctuation) gets the same answer on SQLite as on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from testkit.api import make_client
from testkit.store_corpus import NOW, Spec
from tests.store.helpers import write


def spec(i: int, title: str, body: str, entities: list[tuple[str, str, int]]) -> Spec:
    return Spec(
        id=f"text-{i:02d}",
        title=title,
        body=body,
        published_at=NOW - timedelta(hours=i),
        ingested_at=NOW - timedelta(hours=i),
        source="Wire",
        language="en",
        entities=entities,
        countries=[("DE", True)],
    )


SPECS = [
    spec(
        1,
        "Édouard Philippe at the Élysée",
        "Édouard Philippe met officials from Ålesund at the Élysée palace.",
        [("Édouard Philippe", "PERSON", 2), ("Ålesund", "ORG", 1)],
    ),
    spec(2, "Выборы in Russia", "Выборы президента: the vote in Russia.", []),
    spec(3, "Kenya and Ethiopia sign a border deal", "Kenya and Ethiopia met in Nairobi.", []),
    spec(4, "Japan and Korea talk trade", "Japan and South Korea held talks in Tokyo.", []),
]


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, fresh_pg_url: str, sqlite_url: str) -> str:
    url = fresh_pg_url if request.param == "postgresql" else sqlite_url
    write(url, [s.article() for s in SPECS])
    return url


def ids(url: str, **params: str) -> list[str]:
    r = make_client(url).get("/articles", params=params)
    assert r.status_code == 200, r.text
    return sorted(a["id"] for a in r.json()["articles"])


@pytest.mark.parametrize(
    "name", ["Édouard Philippe", "édouard philippe", "ÉDOUARD PHILIPPE", "ålesund", "ÅLESUND"]
)
def test_entity_names_with_accents_match_in_any_case(url: str, name: str):
    assert ids(url, entity=name) == ["text-01"]
    top = make_client(url).get("/entities", params={"entity": name}).json()["entities"]
    assert "Édouard Philippe" in [e["name"] for e in top]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("élysée", ["text-01"]),  # non-ASCII letters in another case than the text's
        ("ÉLYSÉE", ["text-01"]),
        ("выборы", ["text-02"]),
        ("Kenya OR Japan", ["text-03", "text-04"]),
        ("Kenya or Japan", ["text-03", "text-04"]),
        ("Nairobi Kenya OR Japan", ["text-03", "text-04"]),  # (Nairobi AND Kenya) OR Japan
        ("Nairobi Japan OR Russia", ["text-02"]),
        ("(Kenya,", ["text-03"]),  # punctuation around a word
        # nothing searchable: nothing matches (not everything)
        ('"', []),
        ("-", []),
    ],
)
def test_search_syntax(url: str, q: str, expected: list[str]):
    assert ids(url, q=q) == expected
