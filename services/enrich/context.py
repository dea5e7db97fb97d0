"""Context evidence for the tagger: ambiguous names, name shapes, sports teams.

Pure functions over the article's tokens; the tagger applies their decisions to its mentions.

* :func:`choose_sense` -- a name that is also a common word, product, language or another
  place (``data/senses.tsv``: Amazon, Apple, Java, Flint, Reliance, Turkey, Nice, Georgia,
  Jordan, Chad) takes the sense whose cue words occur in the article; without any cue it keeps
  the model's label but is *weak* (gives no country, so it never sets the focus alone).
* :func:`shape_label` -- a span's head word says what it is ("Arecibo Observatory" is a
  facility, "Redonda Island" a place, "Acme Holdings" and "Bank of X" organizations, a name
  ending in a legal suffix from cleanco ("Ltd", "AG", "plc") a company).
* :func:`sports_story` / :func:`team_context` -- in a sports story a place name that is
  followed by a score, joined to another by "v", or the subject/object of a sporting verb is a
  team (an organization), not the place.
* :func:`table_sides` -- the sides of result lines, league tables, standings, fixtures and
  schedules ("Tranmere 2 Stoke 1", "BALTIMORE 70 63 .526 4", "East Fife v Clydebank").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from cleanco.clean import prepare_default_terms

from services.enrich.gazetteer import DATA_DIR

NOT_NAMES = frozenset(
    "None NULL Null NaN N/A nil Nil True False Undefined undefined TBD TBA".split()
)
# Capitalized words that head lines and tables of news copy without naming anything
# (lower-cased): sport names, table labels, time zones.
GENERIC_WORDS = frozenset(
    """baseball soccer cricket tennis golf basketball rugby hockey football athletics cycling
    boxing swimming squash skiing motor racing men women gmt attendance extras scorer scorers
    schedule standings results result total totals halftime referee table fixtures""".split()
)
EVENT_HEADS = frozenset(
    """Open Cup Championship Championships Games Olympics Masters Classic Trophy Tournament
    Marathon Rally Prix Series Invitational Festival Expo Summit""".split()
)

# head words (last token) that make a span an organization / facility / natural place
ORG_HEADS = frozenset(
    """Bank Party Council Agency Club FC United Ministry University College Association
    Federation Union Committee Commission Corporation Corp Company Group Holdings Airlines
    Airways Exchange Board Institute Foundation Authority Department Office Service Services
    Society Trust Fund Organisation Organization Alliance Front Movement Brigade Brigades
    Army Police Court Parliament Assembly Congress Senate Cabinet Government Administration
    Bureau Industries Motors Bancorp Partners Capital Technologies Systems Pharmaceuticals
    Telecom Communications Energy Petroleum Mining Media Times Post News Press Journal
    Herald Tribune Gazette Network Studios Records Labs Laboratories Hospital School
    Academy Institution Rovers Wanderers Athletic Albion City""".split()
)
FAC_HEADS = frozenset(
    """Observatory Stadium Arena Airport Bridge Tower Palace Castle Cathedral Mosque Temple
    Church Synagogue Museum Gallery Theatre Theater Hall Station Terminal Dam Canal Prison
    Centre Center Plaza Square Street Avenue Road Boulevard Highway Motorway Tunnel Port
    Harbour Harbor Base Mall""".split()
)
LOC_HEADS = frozenset(
    """Island Islands Isle Isles Mountain Mountains Mount River Lake Valley Bay Strait Straits
    Peninsula Desert Sea Ocean Gulf Coast Plateau Basin Delta Forest Glacier Cape Archipelago
    Atoll Reef Heights Hills Hill Falls Canyon Park Province Region District County State
    Territory Oblast Governorate Prefecture""".split()
)
PLACE_BEFORE = (
    ("island", "of"),
    ("islands", "of"),
    ("city", "of"),
    ("town", "of"),
    ("village", "of"),
    ("province", "of"),
    ("state", "of"),
    ("region", "of"),
    ("county", "of"),
    ("district", "of"),
    ("port", "of"),
    ("capital", "of"),
)
PLACE_PREPS = frozenset(("in", "near", "outside", "across", "around", "throughout", "inside"))

# sports stories and teams
SPORTS_CUES = frozenset(
    """beat beats defeated drew draw scored goal goals innings wicket wickets match matches
    league season championship cup tournament striker midfielder defender goalkeeper coach
    halftime half-time quarter-final semi-final quarterfinal semifinal final points rebounds
    touchdown touchdowns inning innings homer homers pitcher batsman batsmen bowler bowled
    victory title club clubs team teams squad standings fixture fixtures soccer football
    cricket baseball basketball rugby hockey tennis golf playoff playoffs stumps declared
    unbeaten test runs standings division game games scorers scorer attendance""".split()
)
TEAM_VERBS = frozenset(
    """beat beats defeated defeat drew draw lost lose loses won win wins edged routed
    thrashed trounced downed held rallied clinched needed trail trailed lead led face faces
    host hosts hosted visit visits play plays played meet meets edge crushed upset stunned
    eliminated knocked""".split()
)
TEAM_BEFORE = frozenset(
    "v vs vs. beat beats defeated against over to at versus and".split()
)  # "lost to X", "X at Y" in results tables: the tagger checks the other side too
_SCORE = re.compile(r"^\d{1,3}([-–]\d{1,3})?$")


_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def is_dateline(words: list[str], start: int, end: int) -> bool:
    """ "NEW YORK 1996-08-30", "BAGHDAD (Reuters) -": a place at the head of a line."""
    if start > 0 and not words[start - 1].isspace():
        return False
    nxt = words[end] if end < len(words) else ""
    return bool(_DATE.match(nxt)) or nxt in ("(", "-", "--", "—")


def is_generic(words: list[str]) -> bool:
    """A span that names nothing: "BASEBALL", "Attendance", "W L PCT GB"."""
    if " ".join(words).lower() in GENERIC_WORDS:
        return True
    return len(words) >= 3 and all(len(w) <= 3 and w.isupper() for w in words)


def is_score(word: str) -> bool:
    return bool(_SCORE.match(word))


@dataclass(frozen=True, slots=True)
class Sense:
    name: str
    label: str  # "-" = not a name
    kind: str
    country: str | None
    cues: tuple[str, ...]
    not_before: frozenset[str]


@dataclass(frozen=True, slots=True)
class SenseChoice:
    sense: Sense | None  # None: no cue for any sense
    drop: bool  # the mention is a common word
    weak: bool  # no cue: keep the model's label, give no country


@lru_cache(maxsize=1)
def senses() -> dict[str, tuple[Sense, ...]]:
    out: dict[str, list[Sense]] = {}
    for line in (DATA_DIR / "senses.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, label, kind, country, cues, not_before = (line.split("\t") + [""] * 6)[:6]
        out.setdefault(name, []).append(
            Sense(
                name,
                label,
                kind,
                country or None,
                tuple(c for c in cues.split("|") if c and c.lower() != name.lower()),
                frozenset(w for w in not_before.split("|") if w),
            )
        )
    return {k: tuple(v) for k, v in out.items()}


class ArticleWords:
    """Token sets of one article for cue look-ups (built once per article, on demand)."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self._exact: set[str] | None = None
        self._lower: set[str] | None = None
        self._text: str | None = None

    def has(self, cue: str) -> bool:
        if self._exact is None:
            self._exact = set(self.words)
            self._lower = {w.lower() for w in self.words}
        if " " in cue:
            if self._text is None:
                self._text = " ".join(self.words)
            return cue in self._text if cue[:1].isupper() else cue in self._text.lower()
        if cue[:1].isupper() or cue.isupper():
            return cue in self._exact
        assert self._lower is not None
        return cue in self._lower


def choose_sense(
    name: str, next_word: str, model_label: str, ctx: ArticleWords, home: str | None = None
) -> SenseChoice | None:
    """The sense of an ambiguous name in this article, or None when the name is not listed.
    ``home`` is the story's home country: with no cue for any sense, a place sense there that
    fits the model's label is taken."""
    options = senses().get(name)
    if not options:
        return None
    for s in options:
        if next_word in s.not_before:
            return SenseChoice(None, True, False)  # "Reliance on overtime"
    scored = [(sum(1 for c in s.cues if ctx.has(c)), k, s) for k, s in enumerate(options)]
    best = max(n for n, _, _ in scored)
    if best == 0:
        local = [
            s
            for s in options
            if home
            and s.country == home
            and s.label in _PLACES
            and _label_fits(model_label, s.label)
        ]
        if len(local) == 1:
            return SenseChoice(local[0], False, False)
        return SenseChoice(None, False, True)
    tied = [s for n, _, s in scored if n == best]
    pick = next((s for s in tied if _label_fits(model_label, s.label)), tied[0])
    return SenseChoice(pick, pick.label == "-", False)


_PLACES = ("GPE", "LOC", "FAC")


def _label_fits(model_label: str, label: str) -> bool:
    return model_label == label or (model_label in _PLACES and label in _PLACES)


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """``data/given_names.txt``: common given names of many languages."""
    out: set[str] = set()
    for line in (DATA_DIR / "given_names.txt").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            out.update(line.split())
    return frozenset(out)


NAME_PARTICLES = frozenset(
    "van der den de da di du von al el bin ben ibn le la dos das del".split()
)
ALL_HEADS = ORG_HEADS | FAC_HEADS | LOC_HEADS | EVENT_HEADS


def person_shape(words: list[str]) -> bool:
    """ "Justin Marshall", "Joost van der Westhuizen": a known given name, then surname
    words (capitalized, or name particles), and no head word of an organization or place."""
    if len(words) < 2 or len(words) > 5 or words[0] not in given_names():
        return False
    if words[-1] in ALL_HEADS or words[-1] in NAME_PARTICLES:
        return False
    for w in words[1:]:
        if w in NAME_PARTICLES:
            continue
        if not (len(w) > 1 and w[:1].isupper() and (w.replace("-", "").replace("'", "").isalpha())):
            return False
        if w.isupper() and not words[0].isupper():
            return False
    return True


@lru_cache(maxsize=1)
def legal_suffixes() -> frozenset[str]:
    """One-word legal suffixes of company names (cleanco), in the case news writes them."""
    risky = {"uk", "eu", "at", "as", "ok", "et", "pt", "ca", "ent", "sem", "ses", "sha", "sal"}
    risky |= {"vat", "sia", "ong", "dat", "ans", "etat", "private", "unlimited", "company"}
    risky |= {"da", "dd", "ec", "ee", "eg", "ei", "ep", "ev", "fa", "gp", "ij", "ik", "ky"}
    out: set[str] = set()
    for n, words in prepare_default_terms():
        if n != 1:
            continue
        w = words[0]
        if w in risky or not w.isalpha() or len(w) < 2:
            continue
        out.update((w.upper(), w.capitalize(), w.capitalize() + "."))
    out.update(("Inc.", "Corp.", "Co.", "Ltd.", "GmbH", "plc", "SpA", "NV", "BV", "AG", "SA"))
    return frozenset(out)


def shape_label(words: list[str], start: int, end: int) -> str | None:
    """What the span's own words say it is, if anything: ORG, FAC or LOC."""
    toks = words[start:end]
    if not toks or not toks[0][:1].isupper():
        return None
    head = toks[-1]
    if len(toks) >= 2 and head in EVENT_HEADS:
        return "EVENT"  # "Hong Kong Open", "Davis Cup"
    if len(toks) >= 2 and head in legal_suffixes():
        return "ORG"
    if len(toks) >= 2 and head in ORG_HEADS:
        return "ORG"
    if len(toks) >= 3 and toks[0] in ORG_HEADS and toks[1] == "of":
        return "ORG"  # "Bank of Japan", "Ministry of Defence", "University of Chicago"
    if len(toks) >= 2 and head in FAC_HEADS:
        return "FAC"
    if len(toks) >= 2 and head in LOC_HEADS:
        return "LOC"
    return None


def place_context(words: list[str], start: int, end: int) -> bool:
    """The words around a span say it is a place: "the island of X", "in X" (not "in X's")."""
    if start >= 2 and (words[start - 2].lower(), words[start - 1]) in PLACE_BEFORE:
        return True
    nxt = words[end] if end < len(words) else ""
    if start >= 1 and words[start - 1] in PLACE_PREPS and nxt not in ("'s", "’s"):
        return True
    return False


def sports_story(words: list[str]) -> bool:
    """Enough sporting vocabulary and at least one score."""
    cues = {w.lower() for w in words if w.lower() in SPORTS_CUES}
    if len(cues) < 3:
        return False
    return any(is_score(w) and ("-" in w or "–" in w) for w in words) or len(cues) >= 4


def team_context(words: list[str], start: int, end: int) -> bool:
    """A place name used as a team: followed by a score, "v" another side, or a sporting
    verb; or after "v", "beat", "against" ..."""
    n = len(words)
    nxt = words[end] if end < n else ""
    prev = words[start - 1] if start > 0 else ""
    if is_score(nxt) and not (end + 1 < n and words[end + 1] in MONTHS):
        return True
    if nxt.lower() in ("v", "vs", "vs.", "versus") or nxt in TEAM_VERBS:
        return True
    if prev.lower() in ("v", "vs", "vs.", "versus", "beat", "beats", "defeated", "against"):
        return True
    return False


_SMALL_NUMBER = re.compile(r"^(\d{1,3}|\.\d{3}|\d/\d|-)$")  # table cells: 12, .526, 1/2, -
_FIXTURE = frozenset(("v", "vs", "vs.", "V"))
_RUN_INNER = frozenset(("'s", "’s", "of", "de", "and", "&"))


def _side_run(words: list[str], start: int, end: int) -> int:
    """End of the capitalized name run starting at ``start`` (at most 4 words), or ``start``."""
    k = start
    while k < end and k - start < 4:
        w = words[k]
        if w[:1].isupper() and any(ch.isalpha() for ch in w):
            k += 1
        elif w in _RUN_INNER and k > start and k + 1 < end and words[k + 1][:1].isupper():
            k += 1
        else:
            break
    return k


def _side_run_back(words: list[str], start: int, end: int) -> int:
    """Start of the capitalized name run ending at ``end`` (at most 4 words), or ``end``."""
    k = end
    while k > start and end - k < 4 and words[k - 1][:1].isupper():
        k -= 1
    return k


# A story with a sport's name in it and none of these words may hold league tables even when
# it has too little running text for :func:`sports_story` (a bare standings table).
SPORT_NAMES = frozenset(
    """soccer football cricket baseball basketball rugby hockey tennis golf athletics league
    leagues standings division""".split()
)
OTHER_TABLES = frozenset(
    """temperature temperatures forecast forecasts weather humidity degrees celsius fahrenheit
    precipitation poll polls polling voters votes ballots turnout""".split()
)


def tables_story(words: list[str], sporty: bool) -> bool:
    """Whether rows of a name and numbers in this story are sports tables (standings), not a
    weather table or a poll by state."""
    if sporty:
        return True
    lower = {w.lower() for w in words}
    return bool(lower & SPORT_NAMES) and not (lower & OTHER_TABLES)


def table_sides(
    words: list[str], lines: list[tuple[int, int]], sporty: bool, tables: bool | None = None
) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the sides named in the tables and result lines of sports copy:
    "Tranmere 2 Stoke 1" (a result), "Clydebank 2 1 0 1 1 3 3" and "BALTIMORE 70 63 .526 4"
    (a league table or standings row: a name, then three or more small numbers and nothing
    else; only where :func:`tables_story` says so, as a weather table "Denver 71 64 52" has
    the same shape),
    "East Fife v Clydebank" (a fixture), and, in a sports story, "KANSAS CITY AT DETROIT" (a
    schedule line)."""
    if tables is None:
        tables = tables_story(words, sporty)
    out: list[tuple[int, int, str]] = []
    for a, b in lines:
        e1 = _side_run(words, a, b)
        if e1 > a:
            rest = words[e1:b]
            if (
                tables  # weather and polls tabulate places with numbers too
                and len(rest) >= 3
                and all(_SMALL_NUMBER.match(w) for w in rest)
                and any(w.isdigit() for w in rest)
            ):
                out.append((a, e1, "table"))
                continue
            if len(rest) >= 3 and rest[0].isdigit() and len(rest[0]) <= 3:
                e2 = _side_run(words, e1 + 1, b)
                if e2 > e1 + 1 and e2 == b - 1 and words[e2].isdigit() and len(words[e2]) <= 3:
                    out.extend(((a, e1, "result"), (e1 + 1, e2, "result")))
                    continue
            if sporty and rest and rest[0].lower() == "at":
                e2 = _side_run(words, e1 + 1, b)
                if e2 == b and e2 > e1 + 1:
                    out.extend(((a, e1, "schedule"), (e1 + 1, e2, "schedule")))
                    continue
        for k in range(a + 1, b - 1):
            if words[k] in _FIXTURE:
                s1 = _side_run_back(words, a, k)
                e2 = _side_run(words, k + 1, b)
                if s1 < k and e2 > k + 1:
                    out.extend(((s1, k, "fixture"), (k + 1, e2, "fixture")))
    return out


MONTHS = frozenset(
    "January February March April May June July August September October November December "
    "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split()
)


# Institutions whose name says they are American: "<Place> Police Department".
US_INSTITUTIONS = (
    ("Police", "Department"),
    ("Police", "Dept."),
    ("Sheriff", "'s", "Office"),
    ("Sheriff", "’s", "Office"),
    ("Sheriff", "'s", "Department"),
    ("Sheriff", "’s", "Department"),
    ("Sheriff", "'s", "Office"),
    ("Fire", "Department"),
    ("School", "District"),
    ("Board", "of", "Education"),
    ("High", "School"),
    ("Township",),
    ("County", "Commission"),
    ("County", "Sheriff"),
)


def us_institution(toks: list[str]) -> bool:
    """The name ends in (or contains) an American institution type."""
    for pattern in US_INSTITUTIONS:
        n = len(pattern)
        for k in range(1, len(toks) - n + 1):
            if tuple(toks[k : k + n]) == pattern:
                return True
    return False


# Words of American local news (lower-cased unless capitalized here): when an article has no
# source country, enough of them, and none of another country's, make the US the prior.
_US_CUES = frozenset(
    """county sheriff sheriff's township interstate mph gop medicaid medicare zip
    democrat democrats republican republicans fahrenheit aldermen alderman selectman
    councilmember councilman councilwoman center centers neighborhood neighborhoods
    theater favorite labor defense license
    Gov. Sen. Rep. Ky. Pa. Ill. Ind. Mich. Ohio Calif. Fla. Ga. Tenn. Va. Conn. Mass. Minn.
    Wis. Mo. Ala. La. Miss. Ark. Okla. Colo. Ariz. Wash. Ore. N.Y. N.J. N.C. S.C.""".split()
)
_OTHER_CUES = {
    "GB": frozenset("£ nhs mp mps labour tory tories borough constabulary pence".split()),
    "CA": frozenset("rcmp opp mpp mla reeve ont. b.c. que. alta. province provincial".split()),
    "IN": frozenset("crore lakh rs".split()),
    "AU": frozenset("nsw qld a$".split()),
    # British and Canadian spelling: not American copy
    "": frozenset(
        """centre centres neighbourhood neighbourhoods favourite colour theatre licence
        defence kilometres metres""".split()
    ),
}


_ANY_OTHER_CUE = frozenset().union(*_OTHER_CUES.values())


def text_country(words: list[str]) -> str | None:
    """US when the article reads like American local news (at least two distinct cues,
    dollar amounts count as one) and has no cue of another country."""
    us: set[str] = set()
    for w in words:
        low = w.lower()
        if w in _US_CUES or low in _US_CUES:
            us.add(low)
        elif w == "$":
            us.add("$")
        elif low in _ANY_OTHER_CUE:
            return None
    return "US" if len(us) >= 2 else None
