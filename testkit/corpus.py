"""Generated news articles: names, places and organisations at news-like density.

Every article has a unique title (``<tag> #<i>: ...``) and URL, and sentences
drawn at random from templates, so no two are near-duplicates of each other.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

PEOPLE = [
    "Angela Merkel",
    "Emmanuel Macron",
    "Olaf Scholz",
    "Joe Biden",
    "Xi Jinping",
    "Narendra Modi",
    "Luiz Inacio Lula da Silva",
    "Cyril Ramaphosa",
    "Fumio Kishida",
    "Giorgia Meloni",
    "Pedro Sanchez",
    "Justin Trudeau",
    "Anthony Albanese",
    "Recep Tayyip Erdogan",
    "Volodymyr Zelensky",
    "Antonio Guterres",
    "Ursula von der Leyen",
    "Christine Lagarde",
    "Jerome Powell",
    "Kristalina Georgieva",
    "Bola Tinubu",
    "William Ruto",
    "Claudia Sheinbaum",
    "Javier Milei",
    "Gabriel Boric",
    "Mark Rutte",
    "Keir Starmer",
    "Donald Tusk",
    "Yoon Suk Yeol",
    "Prabowo Subianto",
]
PLACES = [
    "Berlin",
    "Paris",
    "London",
    "Washington",
    "Beijing",
    "New Delhi",
    "Brasilia",
    "Pretoria",
    "Tokyo",
    "Rome",
    "Madrid",
    "Ottawa",
    "Canberra",
    "Ankara",
    "Kyiv",
    "Brussels",
    "Frankfurt",
    "Nairobi",
    "Lagos",
    "Mexico City",
    "Buenos Aires",
    "Santiago",
    "The Hague",
    "Warsaw",
    "Seoul",
    "Jakarta",
    "Cairo",
    "Istanbul",
    "Geneva",
    "Vienna",
    "Lisbon",
    "Athens",
    "Stockholm",
    "Oslo",
    "Helsinki",
]
COUNTRIES = [
    "Germany",
    "France",
    "Britain",
    "the United States",
    "China",
    "India",
    "Brazil",
    "South Africa",
    "Japan",
    "Italy",
    "Spain",
    "Canada",
    "Australia",
    "Turkey",
    "Ukraine",
    "Kenya",
    "Nigeria",
    "Mexico",
    "Argentina",
    "Chile",
    "the Netherlands",
    "Poland",
    "South Korea",
    "Indonesia",
    "Egypt",
    "Portugal",
    "Greece",
    "Sweden",
    "Norway",
]
ORGS = [
    "the European Union",
    "the United Nations",
    "NATO",
    "the World Bank",
    "the International Monetary Fund",
    "the European Central Bank",
    "the Federal Reserve",
    "Siemens",
    "Volkswagen",
    "Toyota",
    "Samsung",
    "Reuters",
    "the World Health Organization",
    "the African Union",
    "OPEC",
    "Airbus",
    "Boeing",
    "Shell",
    "Nestle",
    "Unilever",
]
TOPICS = [
    "trade",
    "energy prices",
    "inflation",
    "climate policy",
    "migration",
    "defence spending",
    "a new railway line",
    "the budget",
    "interest rates",
    "public health",
    "farm subsidies",
    "a ceasefire",
    "chip manufacturing",
    "grain exports",
    "tax reform",
    "pension reform",
]
SENTENCES = [
    "{person} said on {day} that {country} would review its position on {topic}.",
    "Officials in {place} confirmed that talks with {org} would resume next week.",
    "{person} met {person2} in {place} to discuss {topic} and closer ties with {country}.",
    "According to {org}, {topic} in {country} rose by {n} percent over the past year.",
    "Protesters gathered in {place} on {day}, demanding action on {topic}.",
    "{org} warned that {topic} could weigh on growth in {country} and {country2}.",
    "Speaking in {place}, {person} called the agreement with {org} a turning point.",
    "Analysts at {org} expect {country} to announce new measures on {topic} by {month}.",
    "The delegation from {country} arrived in {place} late on {day}, {person2} said.",
    "{person} told reporters in {place} that {n} projects on {topic} were under way.",
    "Markets in {place} fell {n} points after {org} published figures on {topic}.",
    "{country2} and {country} signed a memorandum on {topic} in {place}.",
    "A spokesperson for {person} declined to comment on reports from {place}.",
    "The talks, hosted by {org} in {place}, are the {n}th round since the crisis began.",
    "Residents of {place} said they had seen little change since {person} took office.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "March", "May", "June", "September", "October", "December"]


def sentence(rng: random.Random) -> str:
    return rng.choice(SENTENCES).format(
        person=rng.choice(PEOPLE),
        person2=rng.choice(PEOPLE),
        place=rng.choice(PLACES),
        country=rng.choice(COUNTRIES),
        country2=rng.choice(COUNTRIES),
        org=rng.choice(ORGS),
        topic=rng.choice(TOPICS),
        day=rng.choice(DAYS),
        month=rng.choice(MONTHS),
        n=rng.randint(2, 97),
    )


def make_article(
    rng: random.Random, tag: str, i: int, words: tuple[int, int] = (40, 80), marker: str = ""
) -> dict[str, Any]:
    """One raw item (the ``RawItem`` fields) of about ``words`` words."""
    target = rng.randint(*words)
    paragraphs: list[str] = []
    count = 0
    while count < target:
        para = " ".join(sentence(rng) for _ in range(rng.randint(2, 4)))
        paragraphs.append(para)
        count += len(para.split())
    if marker:
        paragraphs.append(marker)
    place = rng.choice(PLACES)
    return {
        "kind": "record",
        "title": f"{tag} #{i}: {rng.choice(PEOPLE)} in {place} on {rng.choice(TOPICS)}",
        "body": "\n\n".join(paragraphs),
        "url": f"https://news.example.org/{tag}/{i:06d}",
        "published": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00Z",
        "source": "Example News",
        "origin": f"{tag}:{i}",
    }


def make_corpus(
    n: int, tag: str, seed: int = 7, words: tuple[int, int] = (40, 80)
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [make_article(rng, tag, i, words) for i in range(n)]


def sample_titles() -> set[str]:
    """The title of every article in the bundled ``samples/`` (JSON lines: the ``title``
    field; text files: the line after the date line)."""
    titles = set()
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix == ".jsonl":
            titles |= {json.loads(x)["title"] for x in path.read_text().splitlines() if x.strip()}
        elif path.suffix == ".txt":
            lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
            titles.add(lines[1])
    return titles
