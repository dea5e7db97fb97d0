"""Ingest's knobs, read from :mod:`shared.settings` (the ``fetch`` and ``dedup`` groups of
``Settings``: ``NEWSWIRE_FETCH_*``, ``NEWSWIRE_NEAR_DUP_*``; ``NEWSWIRE_INGEST_KEEP_SHORT``).

Settings are read once per process (``shared.settings.reset_settings()`` re-reads them:
tests, ``newswire ingest --keep-short``).
"""

from __future__ import annotations

from shared.settings import DedupSettings, FetchSettings, get_settings

__all__ = ["DedupSettings", "FetchSettings", "dedup_settings", "fetch_settings", "keep_short_pages"]


def fetch_settings() -> FetchSettings:
    return get_settings().fetch


def dedup_settings() -> DedupSettings:
    return get_settings().dedup


def keep_short_pages() -> bool:
    """``NEWSWIRE_INGEST_KEEP_SHORT=1`` (``newswire ingest --keep-short``): pages with too
    little main text are kept instead of rejected as ``no_main_text``."""
    return get_settings().ingest_keep_short
