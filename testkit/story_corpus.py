"""A generated corpus for story clustering, with the intended grouping.

Events of ten kinds (earthquakes, elections, strikes, fires, mergers ...) in a shared
set of cities, spread over ``days`` days. Each event is told by several outlets, each
in its own words: a headline from one of several patterns, a lead from another, then
zero to six more sentences (facts, quotes, background shared by every event of the
kind), so the articles of one event differ in wording and length. Unrelated events
share kinds, places, people's roles and background text on purpose: two protests in
Paris a week apart, two strikes in one country on consecutive days, a fire and an
election in the same city on the same day.

Entities are what a tagger would find in the text (people, organisations, places,
countries), with an occasional miss; ``bench/stories.py`` can re-tag the text with the
real tagger instead. Everything is a function of ``seed``: the same corpus every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.schemas import ArticlePayload, EnrichedArticle
from testkit.factories import country, enriched, entity, region
from testkit.factories import payload as article_payload

START = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)

CITIES = [
    # city, country code, country name, m49 code, m49 name
    ("Paris", "FR", "France", "155", "Western Europe"),
    ("Lyon", "FR", "France", "155", "Western Europe"),
    ("Berlin", "DE", "Germany", "155", "Western Europe"),
    ("Hamburg", "DE", "Germany", "155", "Western Europe"),
    ("Madrid", "ES", "Spain", "039", "Southern Europe"),
    ("Milan", "IT", "Italy", "039", "Southern Europe"),
    ("Istanbul", "TR", "Turkey", "145", "Western Asia"),
    ("Ankara", "TR", "Turkey", "145", "Western Asia"),
    ("Tokyo", "JP", "Japan", "030", "Eastern Asia"),
    ("Osaka", "JP", "Japan", "030", "Eastern Asia"),
    ("Lagos", "NG", "Nigeria", "011", "Western Africa"),
    ("Nairobi", "KE", "Kenya", "014", "Eastern Africa"),
    ("Lima", "PE", "Peru", "005", "South America"),
    ("Santiago", "CL", "Chile", "005", "South America"),
    ("Manila", "PH", "Philippines", "035", "South-eastern Asia"),
    ("Jakarta", "ID", "Indonesia", "035", "South-eastern Asia"),
]
FIRST = (
    "Anna Marek Julia Tomas Elena Kenji Amara Diego Sofia Omar Lucia Henrik Nadia Pedro "
    "Yuki Chidi Ines Viktor Leila Mateo Hana Samuel Irene Farid Clara Tariq Mira Jonas "
    "Aiko Bruno Zara Emre Lina Rafael Noor Felix Aylin Oscar Greta Ivan"
).split()
LAST = (
    "Kovacs Lindqvist Moreau Tanaka Okafor Alvarez Petrov Haddad Rossi Nakamura Mensah "
    "Silva Demir Novak Fischer Ramos Sato Adeyemi Castro Yilmaz Weber Costa Kimura Osei "
    "Marin Berger Santos Arslan Vogel Duarte Mori Eze Navarro Keller Reyes Aydin Brandt "
    "Ueda Oduya Ferreira"
).split()
SOURCES = [
    "Wire One",
    "Daily Ledger",
    "Morning Post",
    "Global Desk",
    "City Courier",
    "Evening Herald",
    "Metro Times",
    "World Bulletin",
    "Harbor Gazette",
    "North Star",
    "Capital Report",
    "Signal News",
    "The Observer Line",
    "Pacific Dispatch",
    "Continental",
    "Radio Free Text",
    "Union Press",
    "Coast Weekly",
    "Field Notes",
    "Frontline Daily",
    "Market Watcher",
    "The Citizen",
    "Plain Tribune",
    "Valley Voice",
]

# Per kind: headline patterns, lead patterns, fact sentences, quote patterns,
# background sentences (shared by every event of the kind), and the organisation names.
# Slots: {city} {country} {p1} {p2} {org} {org2} {n} {m} {x}
KINDS: dict[str, dict[str, list[str]]] = {
    "quake": {
        "title": [
            "Magnitude {x} earthquake strikes near {city}",
            "Strong quake shakes {city}, {n} dead",
            "{country} earthquake: rescuers search rubble in {city}",
            "Death toll rises to {n} after {city} tremor",
            "Buildings collapse as quake hits {city} region",
        ],
        "lead": [
            "A magnitude {x} earthquake struck near {city} on {wd}, killing at least {n} "
            "people and damaging hundreds of homes.",
            "Rescue teams in {city} were digging through collapsed buildings after a strong "
            "earthquake left {n} people dead.",
            "At least {n} people died when a quake of magnitude {x} shook {city} and "
            "surrounding towns in {country}.",
            "The earthquake, measured at {x} by the {org}, hit {city} shortly after dawn.",
        ],
        "fact": [
            "The {org} said the epicentre was {m} kilometres from {city}.",
            "Hospitals in {city} reported more than {m} injured.",
            "Aftershocks continued through the night, the {org} said.",
            "Power was cut to large parts of {city}.",
            "{p1}, head of the {org}, said search teams would work around the clock.",
        ],
        "quote": [
            '"We are still pulling people out," said {p1} of the {org}.',
            '"The damage in the old town is severe," {p2}, the mayor of {city}, told reporters.',
        ],
        "bg": [
            "{country} sits on several active fault lines.",
            "Building codes were tightened after earlier deadly quakes.",
            "Earthquakes of this size are felt hundreds of kilometres away.",
        ],
        "orgs": ["National Seismic Institute", "Civil Protection Agency", "Red Crescent"],
    },
    "election": {
        "title": [
            "{p1} wins {city} mayoral race",
            "{p1} declared winner in {city} vote",
            "Voters in {city} elect {p1} as mayor",
            "{city} election: {p1} beats {p2}",
            "Upset in {city} as {p1} takes mayor's office",
        ],
        "lead": [
            "{p1} of the {org} won the race for mayor of {city}, taking {n} percent of the "
            "vote against {p2}.",
            "Voters in {city} chose {p1} as their next mayor on {wd}, official results showed.",
            "{p2} conceded defeat in the {city} mayoral election after {p1} won {n} percent.",
            "The {org} candidate {p1} was elected mayor of {city} with a clear majority.",
        ],
        "fact": [
            "Turnout was {m} percent, the electoral commission said.",
            "{p1} campaigned on housing and public transport.",
            "{p2} had led in polls until the final week.",
            "The {org} now controls the city council as well.",
        ],
        "quote": [
            '"This is a victory for every neighbourhood," {p1} told supporters.',
            '"We accept the result," {p2} said in a statement.',
        ],
        "bg": [
            "Local elections in {country} are held every five years.",
            "Mayors of large cities are often seen as future national leaders.",
            "Campaign spending rules were changed last year.",
        ],
        "orgs": ["Civic Alliance", "Green Future Party", "People's Movement", "Liberal Union"],
    },
    "strike": {
        "title": [
            "{org} workers walk out in {city}",
            "Strike halts {city} port",
            "{city} dock strike enters day two",
            "Port workers strike over pay in {city}",
            "Walkout by {org} members paralyses {city} harbour",
        ],
        "lead": [
            "Thousands of dock workers in {city} went on strike on {wd}, demanding a {n} "
            "percent pay rise.",
            "The {org} called a strike at the port of {city}, halting container traffic.",
            "Ships queued outside {city} as port workers belonging to the {org} stopped work.",
            "A strike by the {org} shut the harbour of {city} for a second day.",
        ],
        "fact": [
            "Union leader {p1} said talks with the port authority had failed.",
            "About {m} ships were waiting to unload.",
            "The port authority offered {x} percent, which the union rejected.",
            "{p2}, who runs the port authority, called the strike illegal.",
        ],
        "quote": [
            '"Our members have not had a real raise in years," said {p1}.',
            '"We remain open to dialogue," {p2} said.',
        ],
        "bg": [
            "Ports are vital to {country}'s export economy.",
            "Inflation has eroded wages across the transport sector.",
            "Unions in {country} have staged several strikes this year.",
        ],
        "orgs": ["Dockers' Union", "Transport Workers Federation", "Harbour Staff Union"],
    },
    "fire": {
        "title": [
            "Fire destroys factory in {city}",
            "Blaze at {city} warehouse kills {n}",
            "{n} dead in {city} factory fire",
            "Firefighters battle huge blaze at {org} plant",
            "Smoke over {city} as chemical plant burns",
        ],
        "lead": [
            "A fire tore through a plant owned by {org} in {city} on {wd}, killing {n} workers.",
            "Firefighters in {city} fought for hours to contain a blaze at the {org} factory.",
            "At least {n} people died when fire broke out at a warehouse of {org} in {city}.",
            "Residents near the {org} plant in {city} were told to keep windows shut as "
            "smoke spread.",
        ],
        "fact": [
            "More than {m} firefighters were deployed.",
            "The cause of the fire was not yet known, fire chief {p1} said.",
            "{org} said it was cooperating with investigators.",
            "Prosecutor {p2} opened an inquiry into safety breaches.",
        ],
        "quote": [
            '"The building was fully engulfed when we arrived," said fire chief {p1}.',
            '"We will find out what went wrong," prosecutor {p2} said.',
        ],
        "bg": [
            "Industrial fires have prompted calls for stricter inspections.",
            "The area around {city} hosts many chemical plants.",
            "Safety rules for warehouses were last revised a decade ago.",
        ],
        "orgs": ["Veltra Chemicals", "Nordmark Plastics", "Sunline Textiles", "Orbis Foods"],
    },
    "merger": {
        "title": [
            "{org} to buy {org2} for ${n} billion",
            "{org} agrees takeover of {org2}",
            "{org2} accepts ${n}bn offer from {org}",
            "Deal: {org} and {org2} to combine",
            "{org} bids for rival {org2}",
        ],
        "lead": [
            "{org} agreed to acquire {org2} for about ${n} billion, the companies said on {wd}.",
            "{org2}, based in {city}, accepted a takeover offer from {org} worth ${n} billion.",
            "Shares in {org2} jumped {m} percent after {org} announced a ${n} billion bid.",
            "{org} chief executive {p1} said buying {org2} would create a regional leader.",
        ],
        "fact": [
            "The deal needs approval from competition authorities in {country}.",
            "{p2}, chief executive of {org2}, will join the board of the combined group.",
            "The companies expect savings of ${x} million a year.",
            "Analysts said other bidders could emerge.",
        ],
        "quote": [
            '"Together we will be stronger," {p1} said.',
            '"This is the right partner for us," said {p2}.',
        ],
        "bg": [
            "Consolidation has swept the sector as costs rise.",
            "Regulators in {country} have blocked large deals before.",
            "Takeover activity picked up this year after a quiet spell.",
        ],
        "orgs": [
            "Halden Telecom",
            "Brightwave Networks",
            "Corvus Logistics",
            "Meridian Freight",
            "Altus Pharma",
            "Kestrel Biotech",
            "Ironbridge Steel",
            "Sable Metals",
        ],
    },
    "court": {
        "title": [
            "Court jails {p1} for {n} years",
            "{p1} convicted of fraud in {city}",
            "{city} judge sentences former {org} boss {p1}",
            "Guilty verdict for {p1} in {org} case",
            "{p1} gets {n}-year sentence",
        ],
        "lead": [
            "A court in {city} sentenced {p1}, the former head of {org}, to {n} years in "
            "prison for fraud.",
            "Judge {p2} found {p1} guilty of embezzling funds from {org} on {wd}.",
            "{p1}, who ran {org} for a decade, was convicted of fraud by a court in {city}.",
            "The {city} trial of former {org} chief {p1} ended with a {n}-year sentence.",
        ],
        "fact": [
            "Prosecutors said {m} million was diverted to private accounts.",
            "{p1}'s lawyers said they would appeal.",
            "Judge {p2} ordered the seizure of several properties.",
            "The trial lasted {x} months.",
        ],
        "quote": [
            '"Nobody is above the law," judge {p2} said.',
            '"My client is innocent," a lawyer for {p1} said.',
        ],
        "bg": [
            "Corruption cases have dominated headlines in {country}.",
            "Courts in {country} have been criticised for slow trials.",
            "Anti-fraud prosecutors gained new powers two years ago.",
        ],
        "orgs": ["State Rail Company", "National Lottery Board", "Western Water Utility"],
    },
    "protest": {
        "title": [
            "Thousands march in {city} against {x}",
            "{city} protest over {x} draws crowds",
            "Police clash with protesters in {city}",
            "Protesters fill {city} streets",
            "{org} rally in {city} against {x}",
        ],
        "lead": [
            "Thousands of people marched through {city} on {wd} to protest against {x}.",
            "Police in {city} used tear gas as crowds protesting {x} gathered in the centre.",
            "A rally organised by the {org} brought tens of thousands into {city}'s streets.",
            "Protesters in {city} demanded the government drop its plans for {x}.",
        ],
        "fact": [
            "Organisers put the crowd at {m},000; police said {n},000.",
            "{p1}, a spokesperson for the {org}, said more marches were planned.",
            "Interior minister {p2} said the protest was largely peaceful.",
            "Several arrests were made near the parliament.",
        ],
        "quote": [
            '"We will not give up," said {p1} of the {org}.',
            '"The right to protest is protected," {p2} said.',
        ],
        "bg": [
            "Street protests are common in {country}.",
            "The government's reform agenda has met resistance.",
            "Unions and students often march together.",
        ],
        "orgs": ["Citizens' Collective", "Students' Union", "Pension Defence Front"],
    },
    "landing": {
        "title": [
            "{org} flight makes emergency landing in {city}",
            "Plane diverts to {city} after engine failure",
            "Passengers safe after {org} jet lands in {city}",
            "Emergency landing at {city} airport",
            "{org} aircraft returns to {city} with smoke in cabin",
        ],
        "lead": [
            "An {org} flight carrying {m} passengers made an emergency landing in {city} on "
            "{wd} after an engine failure.",
            "A {org} jet diverted to {city} when crew reported smoke in the cabin.",
            "All {m} passengers on an {org} plane were safe after it landed in {city}.",
            "Pilots of an {org} aircraft declared an emergency shortly after take-off from {city}.",
        ],
        "fact": [
            "{n} people were treated for minor injuries.",
            "The airline said the aircraft was {x} years old.",
            "Aviation authority chief {p1} said an investigation had begun.",
            "Flights at {city} airport were delayed for two hours.",
        ],
        "quote": [
            '"The crew did exactly what they were trained to do," said {p2} of {org}.',
            '"We heard a bang and then the lights went off," one passenger said.',
        ],
        "bg": [
            "Air travel in the region has grown quickly.",
            "Engine failures on modern jets are rare.",
            "Airlines face pressure to keep older aircraft flying.",
        ],
        "orgs": ["Aerolinea Sur", "Skybridge Air", "Pacific Wings", "Anatolia Airways"],
    },
    "flood": {
        "title": [
            "Floods swamp {city} after record rain",
            "{n} killed as floods hit {city}",
            "Thousands evacuated in {city} floods",
            "River bursts banks in {city}",
            "{city} under water after storms",
        ],
        "lead": [
            "Heavy rain flooded large parts of {city} on {wd}, killing {n} people and forcing "
            "thousands from their homes.",
            "The river through {city} burst its banks after {m} millimetres of rain fell in a day.",
            "Rescuers in boats evacuated residents from flooded districts of {city}.",
            "At least {n} people died in floods in and around {city}, officials said.",
        ],
        "fact": [
            "Governor {p1} declared a state of emergency.",
            "Schools in {city} were closed.",
            "The {org} warned of more rain in the coming days.",
            "{p2} of the {org} said water levels were still rising.",
        ],
        "quote": [
            '"We have never seen water this high," said governor {p1}.',
            '"More storms are on the way," {p2} warned.',
        ],
        "bg": [
            "Climate scientists say extreme rain is becoming more frequent.",
            "Flood defences in {country} have been underfunded.",
            "The rainy season usually peaks later in the year.",
        ],
        "orgs": ["Weather Service", "Disaster Management Office"],
    },
    "rates": {
        "title": [
            "Central bank of {country} raises rates to {x}%",
            "{country} lifts interest rates again",
            "{p1} announces rate hike in {country}",
            "{country} central bank tightens policy",
            "Rates up {n} points in {country}",
        ],
        "lead": [
            "The central bank of {country} raised its main interest rate to {x} percent on "
            "{wd}, its governor {p1} said.",
            "{country}'s central bank increased borrowing costs by {n} basis points to fight "
            "inflation.",
            "Governor {p1} said the bank would keep rates high until inflation eased.",
            "Policymakers in {country} voted {m} to 2 to raise rates, the bank said in {city}.",
        ],
        "fact": [
            "Inflation stood at {m} percent last month.",
            "The currency strengthened after the decision.",
            "Finance minister {p2} welcomed the move.",
            "Economists had expected a smaller increase.",
        ],
        "quote": [
            '"Price stability comes first," governor {p1} said.',
            '"Borrowers will feel this," said {p2}.',
        ],
        "bg": [
            "Central banks around the world have raised rates this year.",
            "Higher rates weigh on mortgages and business investment.",
            "Food and energy prices drove inflation higher.",
        ],
        "orgs": ["Central Bank"],
    },
}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
PROTEST_TOPICS = [
    "pension reform",
    "fuel price rises",
    "a new mining law",
    "university fees",
    "water privatisation",
    "a tax on savings",
]


@dataclass
class Event:
    id: int
    kind: str
    city: tuple[str, str, str, str, str]
    start: datetime
    people: tuple[str, str]
    org: str
    org2: str
    n: int
    m: int
    x: str
    size: int


@dataclass
class StoryArticle:
    id: str
    event: int
    title: str
    body: str
    source: str
    published_at: datetime
    entities: list[tuple[str, str, int, bool]] = field(default_factory=list)
    countries: list[tuple[str, str]] = field(default_factory=list)
    regions: list[tuple[str, str, str]] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "title": self.title,
            "published_at": self.published_at,
            "ingested_at": self.published_at + timedelta(minutes=3),
            "language": "en",
            "trace_id": self.id,
        }

    def article(self, enriched_at: datetime | None = None) -> EnrichedArticle:
        return enriched(
            self.id,
            self.body,
            **self.fields(),
            entities=[entity(n, lab, c, in_title=t) for n, lab, c, t in self.entities],
            countries=[
                country(c, name, mentions=1, focus=i == 0)
                for i, (c, name) in enumerate(self.countries)
            ],
            regions=[region(scheme, code, name) for code, name, scheme in self.regions],
            tagger="corpus",
            tagger_version="1",
            enriched_at=enriched_at or self.published_at + timedelta(minutes=4),
        )

    def payload(self) -> ArticlePayload:
        """The article as ingest hands it to the tagger (no tags)."""
        return article_payload(self.id, self.body, **self.fields())


def _person(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if name not in used:
            used.add(name)
            return name


def _events(rng: random.Random, n_events: int, days: int) -> list[Event]:
    kinds = sorted(KINDS)
    used: set[str] = set()
    events: list[Event] = []
    for i in range(n_events):
        kind = kinds[i % len(kinds)]
        # Pairs of look-alikes: every third event repeats the kind and city (or country)
        # of an earlier one, a few days later (or the next day, elsewhere in the country).
        if i >= len(kinds) and i % 3 == 0:
            twin = events[rng.randrange(len(events))]
            kind = twin.kind
            same_country = [c for c in CITIES if c[1] == twin.city[1]]
            city = rng.choice(same_country)
            start = twin.start + timedelta(hours=rng.choice([26, 30, 60, 96, 150, 200]))
        else:
            city = rng.choice(CITIES)
            start = START + timedelta(minutes=rng.randrange(days * 24 * 60))
        orgs = KINDS[kind]["orgs"]
        org = rng.choice(orgs)
        org2 = rng.choice([o for o in orgs if o != org] or orgs)
        size = rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 10, 12, 15])
        x = (
            rng.choice(PROTEST_TOPICS)
            if kind == "protest"
            else f"{rng.randint(4, 7)}.{rng.randint(0, 9)}"
            if kind in ("quake", "rates")
            else str(rng.randint(2, 40))
        )
        events.append(
            Event(
                id=i,
                kind=kind,
                city=city,
                start=start,
                people=(_person(rng, used), _person(rng, used)),
                org=org,
                org2=org2,
                n=rng.randint(3, 90),
                m=rng.randint(10, 400),
                x=x,
                size=size,
            )
        )
    return events


def _write(rng: random.Random, ev: Event, k: int) -> StoryArticle:
    kind = KINDS[ev.kind]
    city, code, country, m49, m49_name = ev.city
    when = ev.start + timedelta(minutes=int(rng.expovariate(1 / 360)) if k else 0)
    slots = {
        "city": city,
        "country": country,
        "p1": ev.people[0],
        "p2": ev.people[1],
        "org": ev.org,
        "org2": ev.org2,
        "n": ev.n,
        "m": ev.m,
        "x": ev.x,
        "wd": WEEKDAYS[ev.start.weekday()],
    }
    title = rng.choice(kind["title"]).format(**slots)
    sentences = [rng.choice(kind["lead"]).format(**slots)]
    extra = rng.sample(kind["fact"], rng.randint(0, len(kind["fact"])))
    extra += rng.sample(kind["quote"], rng.randint(0, 1))
    extra += rng.sample(kind["bg"], rng.randint(0, 2))
    rng.shuffle(extra)
    sentences += [s.format(**slots) for s in extra]
    body = " ".join(sentences)
    text = title + " " + body
    entities: list[tuple[str, str, int, bool]] = []
    for name, label in (
        (ev.people[0], "PERSON"),
        (ev.people[1], "PERSON"),
        (ev.org, "ORG"),
        (ev.org2, "ORG"),
        (city, "GPE"),
        (country, "GPE"),
    ):
        count = text.count(name)
        if count and rng.random() > 0.08:  # a tagger misses one now and then
            entities.append((name, label, count, name in title))
    return StoryArticle(
        id=f"ev{ev.id:03d}-{k:02d}-{rng.getrandbits(32):08x}",
        event=ev.id,
        title=title,
        body=body,
        source=rng.choice(SOURCES),
        published_at=when,
        entities=sorted(entities),
        countries=[(code, country)],
        regions=[(m49, m49_name, "m49")],
    )


def build_story_corpus(seed: int = 7, events: int = 90, days: int = 21) -> list[StoryArticle]:
    """Articles of ``events`` events over ``days`` days, sorted by date (see module doc)."""
    rng = random.Random(seed)
    out = []
    for ev in _events(rng, events, days):
        for k in range(ev.size):
            out.append(_write(rng, ev, k))
    out.sort(key=lambda a: (a.published_at, a.id))
    return out


def bcubed(truth: dict[str, int], got: dict[str, int | None]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a grouping ``got`` (article -> story; None =
    not grouped, counted as a story of its own) against ``truth`` (article -> event)."""
    groups_t: dict[object, set[str]] = {}
    groups_g: dict[object, set[str]] = {}
    for aid, ev in truth.items():
        groups_t.setdefault(ev, set()).add(aid)
        sid = got.get(aid)
        groups_g.setdefault(("alone", aid) if sid is None else sid, set()).add(aid)
    precision = recall = 0.0
    for aid, ev in truth.items():
        sid = got.get(aid)
        mine = groups_g[("alone", aid) if sid is None else sid]
        same = groups_t[ev]
        both = len(mine & same)
        precision += both / len(mine)
        recall += both / len(same)
    precision /= len(truth)
    recall /= len(truth)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
