"""Keyset pagination never skips or repeats an article while new articles arrive."""

from __future__ import annotations

from datetime import timedelta

import pytest

from testkit.api import make_client
from testkit.store_corpus import NOW, Spec
from tests.store.helpers import write


def spec(i: int, hours_ago: float, prefix: str = "a") -> Spec:
    published = NOW - timedelta(hours=hours_ago)
    return Spec(
        id=f"{prefix}-{i:04d}",
        title=f"Story {i}",
        body="Text.",
        published_at=published,
        ingested_at=published,
        source="Wire One",
        language="en",
        entities=[("Hezbollah", "ORG", 1)],
        countries=[("LB", i % 2 == 0)],
    )


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_pages_while_articles_arrive(backend: str, fresh_pg_url: str, sqlite_url: str):
    url = fresh_pg_url if backend == "postgresql" else sqlite_url
    # 60 articles; 12 share one timestamp (the id breaks the tie).
    initial = [spec(i, 100 + (i if i % 5 else 0)) for i in range(60)]
    write(url, [s.article() for s in initial])
    client = make_client(url)

    seen: list[str] = []
    cursor = None
    round_ = 0
    while True:
        params: dict[str, str | int] = {"limit": 7, "entity": "Hezbollah"}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/articles", params=params).json()
        seen += [a["id"] for a in body["articles"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
        # Between pages: newer articles, articles dated inside the range already read,
        # one exactly at the cursor's timestamp, and re-enrichment of read articles.
        round_ += 1
        arrivals = [
            spec(1000 + round_, 1, "new"),
            spec(2000 + round_, 100 + round_ * 3.5, "mid"),
            spec(3000 + round_, 100, "tie"),
        ]
        write(url, [s.article() for s in arrivals])
        reenriched = [s for s in initial if s.id in set(seen[-3:])]
        write(url, [s.article(enriched_at=NOW + timedelta(minutes=round_)) for s in reenriched])

    assert round_ >= 8
    assert len(seen) == len(set(seen)), "an article was repeated"
    initial_ids = {s.id for s in initial}
    assert initial_ids <= set(seen), f"skipped: {sorted(initial_ids - set(seen))}"
    # Arrivals newer than the position already read are not shown on later pages.
    assert not any(i.startswith("new-") for i in seen)
    # And the order is strictly newest first.
    dated = {s.id: s.dated_at for s in initial}
    keys = [(dated[i], i) for i in seen if i in dated]
    assert keys == sorted(keys, reverse=True)


def test_offset_style_paging_would_have_repeated(sqlite_url: str):
    """Control: the arrivals above really shift positions (so the test can fail)."""
    write(sqlite_url, [spec(i, 100 + i).article() for i in range(20)])
    client = make_client(sqlite_url)
    first = [a["id"] for a in client.get("/articles", params={"limit": 5}).json()["articles"]]
    write(sqlite_url, [spec(1, 1, "new").article()])
    top6 = [a["id"] for a in client.get("/articles", params={"limit": 6}).json()["articles"]]
    assert top6[1:] == first  # offset 5 would now return first[-1] again
