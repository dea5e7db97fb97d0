"""Query parameter rules of the API, written once: the OpenAPI pattern is the validation.

FastAPI enforces each ``pattern`` and publishes it in ``/openapi.json``, so a client (or a
schemathesis run) that follows the document is never refused, and one that does not is
refused with a 422 that says why (:data:`PATTERN_MESSAGES`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints

# ISO 3166-1 alpha-2 codes, any case, comma-separated ("IQ,TR" = all of them); empty = none.
COUNTRIES_PATTERN = r"^(?:[A-Za-z]{2}(?:, ?[A-Za-z]{2})*)?$"

# A point in time: '', now, today, yesterday, an age (90m, 24h, 7d, 2w), or an ISO 8601 date
# or datetime (UTC when no offset). Real calendar dates only (no 2026-02-30), years 1000-2999,
# so that every string the pattern allows is one the API reads.
_DATE = (
    r"[12][0-9]{3}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
_LEAP_DAY = r"[12][0-9](?:0[48]|[2468][048]|[13579][26])-02-29|(?:1[26]|20)00-02-29"
_TIME = (
    r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)
WHEN_PATTERN = (
    r"^(?:|now|today|yesterday|[0-9]{1,5}[mhd]|[0-9]{1,4}w"
    rf"|(?:{_DATE}|{_LEAP_DAY})(?:{_TIME})?)$"
)

# Parameter types: ``list[CountryCodes] | None``, ``When | None`` in a route's signature.
CountryCodes = Annotated[str, StringConstraints(pattern=COUNTRIES_PATTERN)]
When = Annotated[str, StringConstraints(pattern=WHEN_PATTERN)]
# The end of a ``When`` parameter's description, after what the point in time bounds.
WHEN_HELP = "ISO 8601 date or datetime (UTC when no offset), 'today', 'yesterday', or 24h / 7d / 2w"

PATTERN_MESSAGES = {
    "country": "is not an ISO 3166-1 alpha-2 code (e.g. IQ), or a list of them (IQ,TR)",
    "focus_country": "is not an ISO 3166-1 alpha-2 code (e.g. IQ), or a list of them (IQ,TR)",
    "since": "is not a date: use ISO 8601 (2026-11-25 or 2026-11-25T08:00:00Z), 'today', "
    "'yesterday' or an age like 24h, 7d, 2w",
    "until": "is not a date: use ISO 8601 (2026-11-25 or 2026-11-25T08:00:00Z), 'today', "
    "'yesterday' or an age like 24h, 7d, 2w",
}


def field_of(loc: list[Any]) -> str | None:
    """The parameter a validation error is about: ("query", "country", 0) -> "country"."""
    names = [p for p in loc[1:] if isinstance(p, str)]
    return names[0] if names else None
