"""Dates in any common format to UTC (a leaf module): RFC 822, ISO 8601, words,
numeric, relative ("3 hours ago")."""

from __future__ import annotations

import email.utils
import re
import warnings
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from dateutil import parser as dateutil_parser

from shared.schemas import utcnow

_TZINFOS = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5 * 3600,
    "EDT": -4 * 3600,
    "CST": -6 * 3600,
    "CDT": -5 * 3600,
    "MST": -7 * 3600,
    "MDT": -6 * 3600,
    "PST": -8 * 3600,
    "PDT": -7 * 3600,
    "BST": 3600,
    "IST": 19800,
    "CET": 3600,
    "CEST": 7200,
    "EET": 7200,
    "EEST": 3 * 3600,
    "MSK": 3 * 3600,
    "JST": 9 * 3600,
    "AEST": 10 * 3600,
    "AEDT": 11 * 3600,
    # Zones of news sites' bylines and feeds (unambiguous abbreviations only: AST,
    # GST, ... name more than one zone and are left out).
    "WAT": 3600,
    "CAT": 2 * 3600,
    "SAST": 2 * 3600,
    "EAT": 3 * 3600,
    "PKT": 5 * 3600,
    "ICT": 7 * 3600,
    "WIB": 7 * 3600,
    "HKT": 8 * 3600,
    "SGT": 8 * 3600,
    "PHT": 8 * 3600,
    "AWST": 8 * 3600,
    "KST": 9 * 3600,
    "NZST": 12 * 3600,
    "NZDT": 13 * 3600,
}
# US zones written without standard/daylight ("10:00 a.m. ET"): the offset of the day.
_US_ZONES = {
    "ET": ("America/New_York", -5),
    "CT": ("America/Chicago", -6),
    "MT": ("America/Denver", -7),
    "PT": ("America/Los_Angeles", -8),
}


@lru_cache(maxsize=1)
def _tzinfos() -> dict[str, Any]:
    """The zone names dateutil is told of (built once)."""
    zones: dict[str, Any] = dict(_TZINFOS)
    for name, (key, standard) in _US_ZONES.items():
        try:
            from zoneinfo import ZoneInfo

            zones[name] = ZoneInfo(key)
        except (ImportError, LookupError, ValueError, OSError):
            zones[name] = standard * 3600  # no time zone database: standard time
    return zones


# "GMT+1", "UTC-05:00": the offset as people write it (GMT+1 is an hour ahead of GMT;
# dateutil reads these the POSIX way round), and a trailing zone name in brackets
# ("...+01:00[Europe/Paris]", java.time's format).
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\s*$", re.IGNORECASE)
_BRACKET_ZONE = re.compile(r"(?<=[\dZ])\[[A-Za-z_/+\-0-9]+\]$")
_MONTHS = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\b", re.IGNORECASE
)
_HAS_YEAR = re.compile(r"\b(19|20)\d\d\b")
_NUMERIC_DATE = re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b")
MIN_YEAR = 1990

# What databases and PHP write for "no date": MySQL's zero date, PHP's date() of it
# ("Mon, 30 Nov -0001", which dateutil reads as 2000), the Unix epoch. An article
# with one of these has no date; it is not refused as having a bad one.
_NO_DATE = re.compile(
    r"^\s*(?:0000-00-00(?:[ T]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?"
    r"|(?:\w{3},?\s+)?30\s+Nov\s+-0001\b.*"
    r"|1970-01-01(?:[ T]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?"
    r"|Thu,?\s+01\s+Jan\s+1970\s+00:00:00\s*(?:GMT|UTC|[+-]0000)?)\s*$",
    re.IGNORECASE,
)


def is_no_date(value: str | None) -> bool:
    """A placeholder for "no date" (see ``_NO_DATE``)."""
    return bool(value) and _NO_DATE.match(value or "") is not None


FUTURE_SLACK = timedelta(days=2)


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def parse_date(value: str | None, relative_to: datetime | None = None) -> datetime | None:
    """Any common date format to UTC; None when it is not a date.

    RFC 822 (feeds, HTTP), ISO 8601, dates in words (``Wednesday, December 6, 2023``),
    numeric dates, and relative dates (``3 hours ago``, ``yesterday``) counted from
    ``relative_to`` (the feed's or the fetch's time; now when not given). A date
    without a zone is taken as UTC.
    """
    if not value or not value.strip():
        return None
    text = " ".join(value.strip().split())[:200]
    text = _BRACKET_ZONE.sub("", text)
    text = _GMT_OFFSET.sub(lambda m: f"{m.group(1)}{int(m.group(2)):02d}{m.group(3) or '00'}", text)
    dt: datetime | None = None
    try:
        dt = email.utils.parsedate_to_datetime(text)
        if dt.tzinfo is None and not text.endswith("-0000"):
            dt = None  # a zone RFC 822 does not know (CET, ...): let dateutil read it
    except (TypeError, ValueError, IndexError):
        dt = None
    if dt is None:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            dt = None
    datelike = _HAS_YEAR.search(text) or _MONTHS.search(text) or _NUMERIC_DATE.search(text)
    if dt is None and datelike:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dt = dateutil_parser.parse(text, fuzzy=False, tzinfos=_tzinfos())
        except (ValueError, OverflowError, TypeError):
            dt = None
    if dt is None and re.search(r"[^\W\d_]", text):
        dt = _dateparser(text, relative_to)
    if dt is None:
        return None
    dt = _utc(dt)
    if dt.year < MIN_YEAR:
        return None
    return dt


def _dateparser(text: str, relative_to: datetime | None) -> datetime | None:
    import dateparser  # deferred on purpose: 90 ms, only for dates the fast parsers miss

    base = _utc(relative_to or utcnow()).replace(tzinfo=None)
    settings = {
        "RELATIVE_BASE": base,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PREFER_DATES_FROM": "past",
    }
    # English first (cheap), then every language dateparser knows ("hace 3 horas").
    for languages in (["en"], None):
        try:
            dt = dateparser.parse(text, languages=languages, settings=settings)
        except (ValueError, OverflowError, TypeError, AttributeError):
            dt = None
        if dt is not None:
            return dt
    return None
