"""Ingest's knobs (``NEWSWIRE_FETCH_*``, ``NEWSWIRE_NEAR_DUP_*``), read on every use.

Declared in :mod:`shared.settings` with every other setting (``FetchSettings``,
``DedupSettings``: the ``fetch`` and ``dedup`` groups of ``Settings``); these functions are
thin wrappers that re-read the environment each call (cheap), so tests and operators can
change them without a restart of the settings cache (parsed once per distinct set of values).
"""

from __future__ import annotations

import os
from functools import lru_cache

from shared.settings import DedupSettings, FetchSettings

__all__ = ["DedupSettings", "FetchSettings", "dedup_settings", "fetch_settings", "keep_short_pages"]


def _env(prefix: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(prefix)))


@lru_cache(maxsize=8)
def _fetch_settings(_: tuple[tuple[str, str], ...]) -> FetchSettings:
    return FetchSettings()


@lru_cache(maxsize=8)
def _dedup_settings(_: tuple[tuple[str, str], ...]) -> DedupSettings:
    return DedupSettings()


def fetch_settings() -> FetchSettings:
    """Current fetch settings (re-read whenever a ``NEWSWIRE_FETCH_*`` variable changes)."""
    return _fetch_settings(_env("NEWSWIRE_FETCH_"))


def dedup_settings() -> DedupSettings:
    return _dedup_settings(_env("NEWSWIRE_NEAR_DUP_"))


def keep_short_pages() -> bool:
    """``NEWSWIRE_INGEST_KEEP_SHORT=1`` (``newswire ingest --keep-short``): pages with too
    little main text are kept instead of rejected as ``no_main_text``."""
    return os.environ.get("NEWSWIRE_INGEST_KEEP_SHORT", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }
