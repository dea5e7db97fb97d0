"""Plain-text article files: optional date line, title line, then paragraphs.

Real exports look like::

    Wednesday, December 6, 2023

    Headline of the story

    First paragraph ...
    - Advertisement -
    Second paragraph ...
    Related news

Furniture lines (see :mod:`services.ingest.furniture`) are dropped wherever they
appear; paragraphs are separated by blank lines, or one per line when the file
has no blank lines in its body.
"""

from __future__ import annotations

import re

from services.ingest.dates import parse_date
from services.ingest.furniture import is_furniture
from shared.schemas import RawItem

_DATE_PREFIX = re.compile(
    r"^(published|updated|posted|date|last updated)( on)?\s*[:\-–]?\s*", re.IGNORECASE
)
MAX_DATE_LINE = 80


def date_of_line(line: str) -> str | None:
    """The date text of a date line (``Published: 6 Dec 2023``), or None."""
    line = _DATE_PREFIX.sub("", line.strip())
    if not line or len(line) > MAX_DATE_LINE or line.endswith((".", "?", "!")):
        return None
    if not re.search(r"\d", line):
        return None
    return line if parse_date(line) is not None else None


def _paragraphs(lines: list[str]) -> list[str]:
    has_blank = any(not ln.strip() for ln in lines)
    if not has_blank:
        return [" ".join(ln.split()) for ln in lines if ln.strip()]
    paragraphs: list[str] = []
    current: list[str] = []
    for ln in lines:
        if ln.strip():
            current.append(" ".join(ln.split()))
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def parse_text_article(text: str, origin: str) -> RawItem:
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # Furniture lines go first, wherever they are; each leaves a paragraph break.
    lines = ["" if (ln.strip() and is_furniture(ln)) else ln.rstrip() for ln in raw_lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise ValueError("empty text file")
    published = date_of_line(lines[0])
    if published is not None:
        lines.pop(0)
        while lines and not lines[0].strip():
            lines.pop(0)
    if not lines:
        raise ValueError("no title line after the date")
    title = " ".join(lines.pop(0).split())
    # A date line right under the headline is common too.
    rest = list(lines)
    while rest and not rest[0].strip():
        rest.pop(0)
    if published is None and rest:
        published = date_of_line(rest[0])
        if published is not None:
            rest.pop(0)
    while rest and not rest[-1].strip():
        rest.pop()
    paragraphs = _paragraphs(rest)
    if not paragraphs:
        raise ValueError("no body after the title line")
    return RawItem(
        kind="record",
        title=title,
        body="\n\n".join(paragraphs),
        published=published,
        origin=origin,
    )
