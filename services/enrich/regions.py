"""World regions: UN M49 regions / sub-regions / intermediate regions and named groupings.

Data lives in ``data/m49.json`` and ``data/groups.json`` (see ``data/README.md``).

    >>> sorted(countries_for_region("Levant"))
    ['IL', 'JO', 'LB', 'PS', 'SY']
    >>> [r["name"] for r in regions_for_country("IQ")][:3]
    ['Asia', 'Western Asia', 'Middle East']

``regions_for_country`` lists M49 region, sub-region and intermediate region first, then the
named groups the country belongs to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"

__all__ = ["all_regions", "countries_for_region", "region_aliases", "regions_for_country"]


@dataclass(frozen=True)
class _Region:
    code: str
    name: str
    scheme: str  # "m49" or "group"
    level: str  # "region" | "subregion" | "intermediate" | "group"
    countries: frozenset[str]
    aliases: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "scheme": self.scheme, "level": self.level}


@dataclass(frozen=True)
class _Index:
    regions: tuple[_Region, ...]
    by_key: dict[str, _Region]
    by_country: dict[str, tuple[_Region, ...]]


def _norm(key: str) -> str:
    k = key.strip().lower().replace("_", "-")
    if k.startswith("the "):
        k = k[4:]
    return k


@lru_cache(maxsize=1)
def _index() -> _Index:
    m49 = json.loads((DATA_DIR / "m49.json").read_text(encoding="utf-8"))
    groups = json.loads((DATA_DIR / "groups.json").read_text(encoding="utf-8"))

    sub_countries: dict[str, set[str]] = {
        code: set(d["countries"]) for code, d in m49["subregions"].items()
    }
    inter: list[_Region] = []
    for code, d in m49["intermediate"].items():
        cs = frozenset(d["countries"])
        sub_countries[d["subregion"]].update(cs)
        inter.append(_Region(code, d["name"], "m49", "intermediate", cs, tuple(d["aliases"])))
    subs = [
        _Region(
            code, d["name"], "m49", "subregion", frozenset(sub_countries[code]), tuple(d["aliases"])
        )
        for code, d in m49["subregions"].items()
    ]
    region_countries: dict[str, set[str]] = {code: set() for code in m49["regions"]}
    for code, d in m49["subregions"].items():
        region_countries[d["region"]].update(sub_countries[code])
    regs = [
        _Region(
            code, d["name"], "m49", "region", frozenset(region_countries[code]), tuple(d["aliases"])
        )
        for code, d in m49["regions"].items()
    ]
    grps = [
        _Region(slug, d["name"], "group", "group", frozenset(d["countries"]), tuple(d["aliases"]))
        for slug, d in groups.items()
        if not slug.startswith("_")
    ]
    ordered = (*regs, *subs, *inter, *grps)
    by_key: dict[str, _Region] = {}
    for r in ordered:
        for key in (r.code, r.name, *r.aliases):
            by_key.setdefault(_norm(key), r)
    level_rank = {"region": 0, "subregion": 1, "intermediate": 2, "group": 3}
    by_country: dict[str, list[_Region]] = {}
    for r in sorted(ordered, key=lambda r: level_rank[r.level]):
        for c in r.countries:
            by_country.setdefault(c, []).append(r)
    return _Index(ordered, by_key, {c: tuple(v) for c, v in by_country.items()})


def regions_for_country(code: str) -> list[dict]:
    """M49 region, sub-region, intermediate region (where defined), then named groups."""
    return [r.as_dict() for r in _index().by_country.get(code.upper(), ())]


def countries_for_region(name_or_code: str) -> set[str]:
    """ISO alpha-2 codes of a region given by M49 code ("145"), M49 name ("Western Asia"),
    group slug ("middle-east") or group name/alias ("Middle East"); case-insensitive."""
    key = _norm(name_or_code)
    idx = _index()
    region = idx.by_key.get(key) or idx.by_key.get(key.replace("-", " "))
    if region is None:
        known = ", ".join(sorted({r.name for r in idx.regions}))
        raise KeyError(
            f"unknown region {name_or_code!r}: use an M49 code (e.g. '145'), an M49 name "
            f"or a group slug/name; known names: {known}"
        )
    return set(region.countries)


def all_regions() -> list[dict]:
    """Every region and group with its member countries (sorted)."""
    return [
        {**r.as_dict(), "countries": sorted(r.countries), "aliases": list(r.aliases)}
        for r in _index().regions
    ]


def region_aliases() -> dict[str, dict]:
    """Surface names (as written in data) -> region dict; used by the tagger."""
    out: dict[str, dict] = {}
    for r in _index().regions:
        for name in (r.name, *r.aliases):
            if name.isdigit():
                continue
            out.setdefault(name, r.as_dict())
    return out
