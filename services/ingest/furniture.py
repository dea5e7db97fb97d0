"""Site furniture ("- Advertisement -", "Related news", "Share this article") as data.

The list is ``services/ingest/data/furniture.txt``; another list can be given with
``NEWSWIRE_FURNITURE_FILE``. A line is furniture when, stripped of surrounding
punctuation and case-folded, it equals an entry, or matches one of the ``re:`` lines.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from shared.settings import get_settings

DEFAULT_FILE = Path(__file__).parent / "data" / "furniture.txt"
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
MAX_FURNITURE_CHARS = 160


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    words: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("re:"):
            patterns.append(re.compile(line[3:], re.IGNORECASE))
        else:
            words.add(_key(line))
    return frozenset(words), tuple(patterns)


def _key(line: str) -> str:
    return " ".join(_EDGE.sub("", line.strip()).casefold().split())


def furniture_file() -> str:
    return get_settings().furniture_file or str(DEFAULT_FILE)


def is_furniture(line: str) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > MAX_FURNITURE_CHARS:
        return False
    words, patterns = _load(furniture_file())
    key = _key(stripped)
    if not key:
        # Only punctuation/decoration ("* * *", "---"): furniture too.
        return True
    if key in words:
        return True
    return any(p.match(stripped) for p in patterns)
