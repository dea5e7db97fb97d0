"""Ingest-only knobs (``NEWSWIRE_FETCH_*``, ``NEWSWIRE_NEAR_DUP_*``), read on every use.

They live here rather than in :mod:`shared.settings` because only the ingest service
reads them; values are re-read from the environment each call (cheap), so tests and
operators can change them without a restart of the settings cache (parsed once per
distinct set of values).
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FetchSettings(BaseSettings):
    """HTTP fetching: safety caps and politeness. Environment: ``NEWSWIRE_FETCH_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_FETCH_", env_file=None, extra="ignore")

    allow_private: bool = Field(
        False, description="allow private/loopback/link-local addresses (tests only)"
    )
    allow_hosts: str = Field(
        "", description="comma-separated host or host:port exempt from the address guard"
    )
    timeout: float = Field(15.0, gt=0, description="seconds per connect/read")
    total_timeout: float = Field(60.0, gt=0, description="seconds for a whole fetch")
    max_bytes: int = Field(10_000_000, ge=1000, description="cap on raw bytes downloaded")
    max_decompressed: int = Field(
        30_000_000, ge=1000, description="cap on bytes after gzip/deflate decoding"
    )
    max_redirects: int = Field(5, ge=0, le=20)
    domain_interval: float = Field(
        1.0, ge=0, description="minimum seconds between requests to one host (all workers)"
    )
    max_wait: float = Field(
        10.0, ge=0, description="longest wait for a host's turn or Retry-After, else give up"
    )
    user_agent: str = Field("NewswireBot/0.1 (+https://example.org/newswire)")
    max_sitemap_urls: int = Field(50_000, ge=1)
    summary_chars: int = Field(
        600, ge=0, description="feed items with less text than this are fetched as pages"
    )


class DedupSettings(BaseSettings):
    """Near-duplicate detection. Environment: ``NEWSWIRE_NEAR_DUP_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSWIRE_NEAR_DUP_", env_file=None, extra="ignore"
    )

    threshold: float = Field(
        0.6, gt=0, le=1, description="estimated Jaccard similarity to call it a duplicate"
    )
    min_words: int = Field(25, ge=1, description="shorter bodies are not near-dup checked")


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
