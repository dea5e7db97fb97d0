"""A stocked database for the console and source-health tests (and bench/console_load.py).

Sources with known, planted health (times relative to ``now``):

* ``Steady Wire``: one article every 6 h for 30 days, dated, authored, long bodies: ok.
* ``Quiet Daily``: one article every 2 h until 2 days ago, then nothing: quiet.
* ``Sloppy Times``: hourly for 8 days; over the last day no date, no author and short
  bodies: extraction degraded.
* a feed that fails (``Failing Feed Co``) is made by the tests themselves by polling it.

Articles carry countries and entities so that the news view has something to shade
and filter: Steady Wire writes about Iraq (Baghdad, Mohammed Shia al-Sudani), Quiet
Daily about Germany (Berlin, Olaf Scholz), Sloppy Times about Brazil (Lula).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.schemas import EnrichedArticle
from testkit.factories import country, enriched, entity

LONG = "This paragraph carries enough words to count as a real article body. " * 8
TOPICS: dict[str, dict[str, Any]] = {
    "Steady Wire": {
        "country": ("IQ", "Iraq"),
        "entities": [("Baghdad", "GPE"), ("Mohammed Shia al-Sudani", "PERSON")],
    },
    "Quiet Daily": {
        "country": ("DE", "Germany"),
        "entities": [("Berlin", "GPE"), ("Olaf Scholz", "PERSON")],
    },
    "Sloppy Times": {"country": ("BR", "Brazil"), "entities": [("Lula", "PERSON")]},
}


@dataclass
class Planted:
    source: str
    at: datetime
    complete: bool = True  # date, author and a long body
    n: int = 0


def plan(now: datetime) -> list[Planted]:
    out: list[Planted] = []
    for i in range(120):  # every 6 h for 30 days, the last one an hour ago
        out.append(Planted("Steady Wire", now - timedelta(hours=1 + 6 * i)))
    for i in range(12 * 18):  # every 2 h from 20 days ago until 2 days ago
        out.append(Planted("Quiet Daily", now - timedelta(days=2, hours=2 * i)))
    for i in range(24 * 8):  # hourly for 8 days; the last day badly extracted
        at = now - timedelta(minutes=30 + 60 * i)
        out.append(Planted("Sloppy Times", at, complete=(now - at) > timedelta(days=1)))
    for n, p in enumerate(out):
        p.n = n
    return out


def article(p: Planted, prefix: str = "t") -> EnrichedArticle:
    topic = TOPICS[p.source]
    code, name = topic["country"]
    aid = f"{prefix}{p.n:07d}"
    return enriched(
        aid,
        (LONG if p.complete else "Short teaser.") + f" ({aid})",
        url=f"https://{p.source.lower().replace(' ', '-')}.example.test/{aid}",
        source=p.source,
        title=f"{p.source} report {p.n} from {name}",
        published_at=p.at if p.complete else None,
        ingested_at=p.at,
        language="en",
        authors=["A. Writer"] if p.complete else [],
        trace_id="trace-" + aid,
        entities=[entity(e, label, spans=[[0, 1]]) for e, label in topic["entities"]],
        countries=[country(code, name, via=["gazetteer"], focus=True)],
        enriched_at=p.at,
    )


def stock(url: str, now: datetime | None = None, *, batch: int = 200) -> list[Planted]:
    """Store the planted articles in the database at ``url`` (as the store worker does)."""
    from services.store.tasks import store_batch

    planted = plan(now or datetime.now(UTC))
    for start in range(0, len(planted), batch):
        store_batch([article(p) for p in planted[start : start + batch]], url)
    return planted


def bulk(url: str, n: int, now: datetime | None = None, *, seed: int = 7) -> None:
    """``n`` more articles over 30 days from 40 sites and 30 countries (load benchmarks)."""
    from services.store.tasks import store_batch

    now = now or datetime.now(UTC)
    rnd = random.Random(seed)
    codes = [
        ("IQ", "Iraq"), ("DE", "Germany"), ("BR", "Brazil"), ("US", "United States"),
        ("FR", "France"), ("IN", "India"), ("CN", "China"), ("RU", "Russia"),
        ("UA", "Ukraine"), ("TR", "Turkey"), ("NG", "Nigeria"), ("ZA", "South Africa"),
        ("MX", "Mexico"), ("JP", "Japan"), ("GB", "United Kingdom"), ("IT", "Italy"),
        ("ES", "Spain"), ("EG", "Egypt"), ("IR", "Iran"), ("IL", "Israel"),
        ("PK", "Pakistan"), ("ID", "Indonesia"), ("AR", "Argentina"), ("CA", "Canada"),
        ("AU", "Australia"), ("KE", "Kenya"), ("SY", "Syria"), ("LB", "Lebanon"),
        ("PL", "Poland"), ("KR", "South Korea"),
    ]  # fmt: skip
    people = [f"Person {i}" for i in range(300)]
    batch: list[EnrichedArticle] = []
    for i in range(n):
        at = now - timedelta(seconds=rnd.uniform(0, 30 * 86400))
        code, name = rnd.choice(codes)
        aid = f"b{i:08d}"
        src = f"Site {i % 40:02d}"
        batch.append(
            enriched(
                aid,
                LONG + f" ({aid})",
                url=f"https://site{i % 40}.example.test/{aid}",
                source=src,
                title=f"{src} on {name}, item {i}",
                published_at=at,
                ingested_at=at,
                language="en",
                authors=["B. Writer"],
                trace_id="trace-" + aid,
                entities=[entity(p, "PERSON", spans=[[0, 1]]) for p in rnd.sample(people, 3)],
                countries=[country(code, name, via=["gazetteer"])],
                tagger="bench",
                enriched_at=at,
            )
        )
        if len(batch) == 1000:
            store_batch(batch, url)
            batch = []
    if batch:
        store_batch(batch, url)
