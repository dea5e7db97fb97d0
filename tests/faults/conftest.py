"""Fixtures of the fault suite; prints one ``FAULT ...`` line per test at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.cluster import Cluster, RedisServer
from tests.faults.report import SUMMARY

# Delivery settings in seconds so that every recovery path fits in a short test.
FAST = {
    "batch_size": 10,
    "visibility_timeout": 60,
    "retry_backoff_max": 4,
    "max_attempts": 3,
    "reconcile_after": 15,
    "reconcile_interval": 3,
    "task_soft_time_limit": 120,
    "task_time_limit": 150,
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("fault suite")
        for line in SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[object]:
    """Build :class:`Cluster` objects; every process they started is stopped at the end."""
    made: list[Cluster] = []

    def make(broker_url: str, database_url: str, **settings: str | int) -> Cluster:
        merged = {**FAST, **settings}
        cluster = Cluster(tmp_path / f"cluster{len(made)}", broker_url, database_url, **merged)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own (port, data directory, append-only file).

    A db number on the machine's Redis is not enough here: on a shared machine
    another session's workers on the same number would take this test's messages.
    """
    server = RedisServer(tmp_path / "broker", appendfsync="everysec")
    server.start()
    yield server.url
    server.stop()
