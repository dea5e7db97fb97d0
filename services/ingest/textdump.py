"""Plain-text article files: optional date line, title line, then paragraphs."""

from __future__ import annotations

import re

from shared.schemas import RawItem

_PARA_SPLIT = re.compile(r"\n\s*\n")


def looks_like_date(line: str) -> bool:
    from services.ingest.prepare import parse_date

    line = line.strip()
    if not line or len(line) > 60 or line.endswith((".", "?", "!")):
        return False
    if not re.search(r"\d", line):
        return False
    return parse_date(line) is not None


def parse_text_article(text: str, origin: str) -> RawItem:
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    # Drop leading blank lines.
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise ValueError("empty text file")
    published = None
    if looks_like_date(lines[0]):
        published = lines.pop(0).strip()
        while lines and not lines[0].strip():
            lines.pop(0)
    if not lines:
        raise ValueError("no title line after the date")
    title = lines.pop(0).strip()
    body = "\n".join(lines).strip()
    paragraphs = [" ".join(p.split()) for p in _PARA_SPLIT.split(body) if p.strip()]
    if not paragraphs:
        raise ValueError("no body after the title line")
    return RawItem(
        kind="record",
        title=title,
        body="\n\n".join(paragraphs),
        published=published,
        origin=origin,
    )
