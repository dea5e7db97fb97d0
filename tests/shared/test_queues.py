"""Queue names, routes and periodic entries agree with each other."""

from __future__ import annotations

import pytest

from services.entrypoints.beat import beat_schedule
from shared import queues
from shared.settings import get_settings

TASKS = [
    queues.INGEST_ITEMS,
    queues.POLL_FEEDS,
    queues.TAG_ARTICLES,
    queues.STORE_ARTICLES,
    queues.RECONCILE,
    queues.INDEX_SEARCH,
    queues.CLUSTER_STORIES,
]


@pytest.mark.parametrize("task", TASKS)
def test_a_task_goes_to_the_queue_its_route_names(task: str) -> None:
    route = queues.ROUTES[task.split(".", 1)[0] + ".*"]
    assert queues.queue_of(task) == route["queue"]


def test_a_task_without_a_service_prefix_has_no_queue() -> None:
    with pytest.raises(ValueError, match="has no queue"):
        queues.queue_of("reports.weekly")


def test_every_periodic_entry_runs_on_its_tasks_queue_and_expires_after_one_interval() -> None:
    schedule = beat_schedule(get_settings())
    assert {"poll-feeds", "reconcile", "index-search", "cluster-stories"} <= set(schedule)
    for entry in schedule.values():
        assert entry["options"]["queue"] == queues.queue_of(entry["task"])
        assert entry["options"]["expires"] == entry["schedule"] > 0
