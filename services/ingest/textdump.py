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


_FRONT_KEYS = {
    "title": "title",
    "date": "published",
    "published": "published",
    "pubdate": "published",
    "author": "authors",
    "authors": "authors",
    "url": "url",
    "canonical_url": "url",
    "lang": "language",
    "language": "language",
}
MAX_FRONT_MATTER_LINES = 60


def _front_matter(lines: list[str]) -> tuple[dict[str, object], list[str]]:
    """YAML front matter (``---`` ... ``---``, as Jekyll, Hugo and other static site
    generators write Markdown articles): its title, date, authors, url and language,
    and the lines after it. Simple ``key: value`` and ``key: [a, b]`` lines only."""
    if not lines or lines[0].strip() != "---":
        return {}, lines
    for end in range(1, min(len(lines), MAX_FRONT_MATTER_LINES)):
        if lines[end].strip() in {"---", "..."}:
            break
    else:
        return {}, lines
    meta: dict[str, object] = {}
    items: list[str] | None = None  # a YAML list on the lines under its key
    for line in lines[1:end]:
        m = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", line)
        if m:
            field = _FRONT_KEYS.get(m.group(1).lower())
            value = m.group(2).strip()
            items = None
            if field is None:
                continue
            if field == "authors":
                if value.startswith("[") and value.endswith("]"):
                    meta[field] = [_unquote(v) for v in value[1:-1].split(",") if v.strip()]
                elif value:
                    meta[field] = [_unquote(value)]
                else:
                    items = []
                    meta[field] = items
            elif value:
                meta[field] = _unquote(value)
        elif items is not None and line.strip().startswith("- "):
            items.append(_unquote(line.strip()[2:]))
    return meta, lines[end + 1 :]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


_HEADING = re.compile(r"^#{1,6}\s+")


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^()\s]*\))+(?:\s+\"[^\"]*\")?\)")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EM = re.compile(
    r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)([^_]+?)(?<=\S)_(?!\w)"
)
_MD_CODE = re.compile(r"`([^`]+)`")
_MD_BLOCK = re.compile(r"^\s{0,3}(?:>\s?)+|^\s{0,3}#{1,6}\s+")
_MD_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+")


def markdown_lines(lines: list[str]) -> list[str]:
    """Markdown to plain lines: images dropped, links to their text, emphasis and code
    marks, quote and heading marks taken off; headings and list items stand as their
    own paragraphs."""
    out: list[str] = []
    for line in lines:
        item = _MD_ITEM.match(line)
        heading = re.match(r"^\s{0,3}#{1,6}\s+", line)
        line = _MD_BLOCK.sub("", _MD_ITEM.sub("", line))
        line = _MD_IMAGE.sub("", line)
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_STRONG.sub(r"\2", line)
        line = _MD_EM.sub(lambda m: m.group(1) or m.group(2), line)
        line = _MD_CODE.sub(r"\1", line)
        if (item or heading) and out and out[-1].strip():
            out.append("")  # a list item or a heading is a paragraph of its own
        out.append(line)
        if heading:
            out.append("")
    return out


def parse_text_article(text: str, origin: str, markdown: bool = False) -> RawItem:
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    meta, raw_lines = _front_matter(raw_lines)
    if markdown:
        raw_lines = markdown_lines(raw_lines)
    # Furniture lines go first, wherever they are; each leaves a paragraph break.
    lines = ["" if (ln.strip() and is_furniture(ln)) else ln.rstrip() for ln in raw_lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    meta_title = " ".join(str(meta.get("title") or "").split())
    if meta_title:
        # The front matter's title; the same headline repeated under it is not body.
        if lines and " ".join(_HEADING.sub("", lines[0]).split()) == meta_title:
            lines.pop(0)
        lines = [meta_title, ""] + lines
    if not lines:
        raise ValueError("empty text file")
    published = None if meta_title else date_of_line(lines[0])
    if published is not None:
        lines.pop(0)
        while lines and not lines[0].strip():
            lines.pop(0)
    if not lines:
        raise ValueError("no title line after the date")
    title = " ".join(_HEADING.sub("", lines.pop(0)).split())  # "# Headline" in Markdown
    # A date line right under the headline is common too.
    rest = list(lines)
    while rest and not rest[0].strip():
        rest.pop(0)
    if isinstance(meta.get("published"), str):
        published = str(meta["published"])
    if published is None and rest:
        published = date_of_line(rest[0])
        if published is not None:
            rest.pop(0)
    while rest and not rest[-1].strip():
        rest.pop()
    paragraphs = _paragraphs(rest)
    if not paragraphs:
        raise ValueError("no body after the title line")
    authors = meta.get("authors")
    return RawItem(
        kind="record",
        title=title,
        body="\n\n".join(paragraphs),
        published=published,
        authors=authors if isinstance(authors, list) else [],
        url=meta.get("url") if isinstance(meta.get("url"), str) else None,
        language=meta.get("language") if isinstance(meta.get("language"), str) else None,
        origin=origin,
    )
