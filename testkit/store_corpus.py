"""A fixture corpus written by us, with an oracle that says which articles each filter
must return (computed in Python from the corpus definition, not from the database)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.schemas import EnrichedArticle
from testkit.factories import country, enriched, entity, region

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

PEOPLE = ["Antony Blinken", "Hassan Nasrallah", "Recep Tayyip Erdogan", "Olaf Scholz", "Lula"]
ORGS = ["Hezbollah", "United Nations", "NATO", "Reuters"]
PLACES = ["Baghdad", "Ankara", "Beirut", "Berlin"]
COUNTRIES = {
    "IQ": "Iraq",
    "TR": "Turkey",
    "LB": "Lebanon",
    "DE": "Germany",
    "BR": "Brazil",
    "US": "United States",
}
REGIONS = {
    "IQ": [("m49", "145", "Western Asia"), ("group", "middle-east", "Middle East")],
    "TR": [("m49", "145", "Western Asia"), ("group", "middle-east", "Middle East")],
    "LB": [("m49", "145", "Western Asia"), ("group", "middle-east", "Middle East")],
    "DE": [("m49", "155", "Western Europe"), ("group", "eu", "European Union")],
    "BR": [("m49", "005", "South America")],
    "US": [("m49", "021", "Northern America")],
}
SOURCES = ["Wire One", "Daily Two", "Gazette"]
LANGUAGES = ["en", "en", "en", "de", "fr"]
# Words that only appear where we put them (full-text oracle): no stemming traps.
KEYWORDS = ["zeppelin", "quarry", "avalanche", "saxophone"]


@dataclass
class Spec:
    id: str
    title: str
    body: str
    published_at: datetime | None
    ingested_at: datetime
    source: str | None
    language: str | None
    entities: list[tuple[str, str, int]] = field(default_factory=list)
    countries: list[tuple[str, bool]] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)

    @property
    def dated_at(self) -> datetime:
        return self.published_at or self.ingested_at

    @property
    def regions(self) -> list[tuple[str, str, str]]:
        seen: dict[tuple[str, str], tuple[str, str, str]] = {}
        for code, _ in self.countries:
            for r in REGIONS[code]:
                seen[(r[0], r[1])] = r
        return list(seen.values())

    def article(self, enriched_at: datetime | None = None) -> EnrichedArticle:
        return enriched(
            self.id,
            self.body,
            source=self.source,
            title=self.title,
            published_at=self.published_at,
            ingested_at=self.ingested_at,
            language=self.language,
            trace_id="trace-" + self.id,
            entities=[entity(n, lab, c, spans=[[0, 1]]) for n, lab, c in self.entities],
            countries=[
                country(code, COUNTRIES[code], via=["gazetteer"], focus=f)
                for code, f in self.countries
            ],
            regions=[region(*r) for r in self.regions],
            enriched_at=enriched_at or NOW,
        )


def build_corpus(n: int = 60, seed: int = 11) -> list[Spec]:
    rng = random.Random(seed)
    specs = [
        # "every story about Hezbollah in the Middle East this week"
        Spec(
            id="hez-week",
            title="Hezbollah warns Israel",
            body="Hezbollah leader Hassan Nasrallah spoke in Beirut.",
            published_at=NOW - timedelta(days=2),
            ingested_at=NOW - timedelta(days=2),
            source="Wire One",
            language="en",
            entities=[("Hezbollah", "ORG", 3), ("Hassan Nasrallah", "PERSON", 2)],
            countries=[("LB", True)],
        ),
        Spec(
            id="hez-old",
            title="Hezbollah history",
            body="A look back at Hezbollah.",
            published_at=NOW - timedelta(days=40),
            ingested_at=NOW - timedelta(days=1),
            source="Gazette",
            language="en",
            entities=[("Hezbollah", "ORG", 1)],
            countries=[("LB", False)],
        ),
        # "every article that mentions both Iraq and Turkey"
        Spec(
            id="iq-tr",
            title="Iraq and Turkey sign water deal",
            body="Officials from Baghdad and Ankara met. The quarry dispute was settled.",
            published_at=None,  # no date from the source: sorted by ingest time
            ingested_at=NOW - timedelta(hours=5),
            source="Daily Two",
            language="en",
            entities=[("Recep Tayyip Erdogan", "PERSON", 1), ("Baghdad", "GPE", 2)],
            countries=[("IQ", True), ("TR", True)],
            keywords=["quarry"],
        ),
    ]
    for i in range(n):
        countries = rng.sample(sorted(COUNTRIES), rng.randint(0, 3))
        focus = set(rng.sample(countries, min(len(countries), rng.randint(0, 2))))
        names = rng.sample(
            [(p, "PERSON") for p in PEOPLE]
            + [(o, "ORG") for o in ORGS]
            + [(g, "GPE") for g in PLACES],
            rng.randint(0, 5),
        )
        keywords = rng.sample(KEYWORDS, rng.randint(0, 2))
        published = NOW - timedelta(hours=rng.randint(0, 24 * 30)) if rng.random() > 0.1 else None
        # A few share a timestamp: the id breaks the tie in the sort.
        if i % 9 == 0 and published is not None:
            published = NOW - timedelta(days=3)
        specs.append(
            Spec(
                id=f"gen-{i:03d}",
                title=f"Report {i} " + " ".join(keywords[:1]),
                body="News text. " + " ".join(keywords[1:]) + " More text follows here.",
                published_at=published,
                ingested_at=NOW - timedelta(hours=rng.randint(0, 24 * 30)),
                source=rng.choice(SOURCES + [None]),
                language=rng.choice(LANGUAGES + [None]),
                entities=[(n, lab, rng.randint(1, 4)) for n, lab in names],
                countries=[(c, c in focus) for c in countries],
                keywords=keywords,
            )
        )
    return specs


def _region_match(spec: Spec, value: str) -> bool:
    v = value.lower()
    return any(
        code == value or name.lower() == v or code == v.replace(" ", "-")
        for _, code, name in spec.regions
    )


def matches(spec: Spec, f: dict[str, Any]) -> bool:
    """The oracle: does this article satisfy every filter in ``f``?"""
    label = f.get("label")
    for name in f.get("entity", []):
        if not any(
            n.lower() == name.lower() and (label is None or lab == label.upper())
            for n, lab, _ in spec.entities
        ):
            return False
    if (
        label
        and not f.get("entity")
        and not any(lab == label.upper() for _, lab, _ in spec.entities)
    ):
        return False
    codes = {c for c, _ in spec.countries}
    if any(c.upper() not in codes for c in f.get("country", [])):
        return False
    focus = {c for c, is_focus in spec.countries if is_focus}
    if any(c.upper() not in focus for c in f.get("focus_country", [])):
        return False
    if any(not _region_match(spec, r) for r in f.get("region", [])):
        return False
    if "source" in f and spec.source != f["source"]:
        return False
    if "language" in f and spec.language != f["language"]:
        return False
    if "since" in f and spec.dated_at < f["since"]:
        return False
    if "until" in f and spec.dated_at >= f["until"]:
        return False
    if "q" in f and f["q"] not in spec.keywords:
        return False
    return True


def expected_ids(specs: list[Spec], f: dict[str, Any]) -> list[str]:
    """Matching ids in the API's order: newest first, id breaking ties."""
    hits = [s for s in specs if matches(s, f)]
    hits.sort(key=lambda s: (s.dated_at, s.id), reverse=True)
    return [s.id for s in hits]
