"""Length-preserving truecasing of ALL-CAPS lines (headlines, datelines, shouted wire copy).

The statistical NER model was trained on mixed-case text and does badly on "BAGHDAD 2024-01-05"
or "SOCCER - JAPAN GET LUCKY WIN".  We rewrite such lines before tagging, keeping every
character offset unchanged, using in order: acronyms known to the gazetteer ("US", "NATO"),
the casing the same article uses elsewhere, the gazetteer's casing of known names, a small
list of function words (lower-cased), else Capitalized.
"""

from __future__ import annotations

import re
from collections import Counter

from services.enrich.gazetteer import FUNCTION_WORDS

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_LINE = re.compile(r"[^\n]+")
_ANY_CAPS = re.compile(r"[A-Z]{3}")


def _is_caps_line(line: str) -> bool:
    lower: float
    upper = lower = 0
    for m in _WORD.finditer(line):
        w = m.group()
        if len(w) < 2:
            continue
        if w.isupper():
            upper += 1
        elif not w.istitle():
            lower += 1
        else:
            lower += 0.5
    return upper >= 2 and upper >= 3 * lower or (upper == 1 and lower == 0 and len(line) < 60)


def has_caps_lines(text: str) -> bool:
    return any(_is_caps_line(m.group()) for m in _LINE.finditer(text))


def _doc_casing(text: str, caps_spans: list[tuple[int, int]]) -> dict[str, str]:
    """Most frequent non-sentence-initial casing of each word in the mixed-case part."""
    counts: dict[str, Counter] = {}
    pos = 0
    pieces = []
    for s, e in caps_spans:
        pieces.append(text[pos:s])
        pos = e
    pieces.append(text[pos:])
    for piece in pieces:
        prev_end = ""
        for m in _WORD.finditer(piece):
            w = m.group()
            before = piece[max(0, m.start() - 2) : m.start()]
            initial = not prev_end or before.strip()[-1:] in (".", "!", "?", '"', "“", ":")
            prev_end = w
            if initial or w.isupper():
                continue
            counts.setdefault(w.lower(), Counter())[w] += 1
    return {k: c.most_common(1)[0][0] for k, c in counts.items()}


# "BAGHDAD -", "ROSWELL, Ga. --", "WASHINGTON (Reuters) -": a dateline opening a paragraph
_DATELINE = re.compile(r"(?m)^[ \t]*([A-Z][A-Z.'’ -]*[A-Z.])(?=\s*(?:,|—|–|-|\())")


def _spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _LINE.finditer(text):
        if _is_caps_line(m.group()):
            spans.append((m.start(), m.end()))
        else:
            d = _DATELINE.match(text, m.start())
            if d and len(d.group(1)) >= 3 and d.group(1).replace(".", "").strip().isupper():
                spans.append((d.start(1), d.end(1)))
    return spans


def truecase(
    text: str, acronyms: frozenset[str], case_map: dict[str, str], places: dict | None = None
) -> str:
    """Return ``text`` with ALL-CAPS lines and datelines recased; same length, same offsets."""
    if not _ANY_CAPS.search(text):
        return text
    spans = _spans(text)
    if not spans:
        return text
    local = _doc_casing(text, spans)

    def fix(m: re.Match) -> str:
        w = m.group()
        if not w.isupper() or len(w) < 2:
            return w
        low = w.lower()
        if w in acronyms:
            out = w
        elif low in local:
            out = local[low]
        elif low in case_map:
            out = case_map[low]
        elif places is not None and low in places:
            out = w[0] + w[1:].lower()
        elif low in FUNCTION_WORDS:
            out = low
        else:
            out = w[0] + w[1:].lower()
        return out if len(out) == len(w) else w

    parts = []
    pos = 0
    for s, e in spans:
        parts.append(text[pos:s])
        parts.append(_WORD.sub(fix, text[s:e]))
        pos = e
    parts.append(text[pos:])
    out = "".join(parts)
    return out if len(out) == len(text) else text
