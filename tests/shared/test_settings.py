"""One settings object: nested groups keep their variable names, schedules and secrets."""

from __future__ import annotations

import pytest

from services.entrypoints.beat import beat_schedule
from shared.settings import FlowerSettings, Settings, SettingsError, fault_hooks, get_settings


def test_nested_groups_read_their_own_prefixes(env: pytest.MonkeyPatch) -> None:
    env.setenv("NEWSWIRE_FETCH_TIMEOUT", "7.5")
    env.setenv("NEWSWIRE_NEAR_DUP_THRESHOLD", "0.8")
    env.setenv("NEWSWIRE_TEST_POISON_MARKER", "boom")
    settings = get_settings()
    assert settings.fetch.timeout == 7.5
    assert settings.dedup.threshold == 0.8
    assert settings.faults.test_poison_marker == "boom"


def test_ingest_config_wrappers_are_the_shared_groups(env: pytest.MonkeyPatch) -> None:
    from services.ingest.config import dedup_settings, fetch_settings

    env.setenv("NEWSWIRE_FETCH_MAX_REDIRECTS", "3")
    assert fetch_settings().max_redirects == 3
    assert type(fetch_settings()) is type(get_settings().fetch)
    assert dedup_settings().min_words == get_settings().dedup.min_words == 25


def test_fault_hooks_are_read_fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWIRE_TEST_POISON_MARKER", "x")
    assert fault_hooks().test_poison_marker == "x"
    monkeypatch.delenv("NEWSWIRE_TEST_POISON_MARKER")
    assert fault_hooks().test_poison_marker is None  # no cache to forget


def test_feed_polling_interval_is_a_setting(env: pytest.MonkeyPatch) -> None:
    env.setenv("NEWSWIRE_FEED_POLL_INTERVAL", "120")
    poll = beat_schedule(get_settings())["poll-feeds"]
    assert poll["schedule"] == 120.0 and poll["options"]["expires"] == 120


def test_short_flower_password_refused_in_production(env: pytest.MonkeyPatch) -> None:
    env.setenv("NEWSWIRE_ENV", "production")
    env.setenv("NEWSWIRE_API_TOKEN", "a-real-secret-0123456789")
    env.setenv("NEWSWIRE_FLOWER_PASSWORD", "short-pw")
    with pytest.raises(SettingsError, match="NEWSWIRE_FLOWER_PASSWORD"):
        get_settings()
    env.setenv("NEWSWIRE_FLOWER_PASSWORD", "long-enough-secret")
    assert get_settings().flower.password == "long-enough-secret"
    assert (
        Settings(env="development", flower=FlowerSettings(password="short")).flower.password
        == "short"
    )
