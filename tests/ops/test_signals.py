"""The ops task counters (services/ops/signals.py) are connected by the worker's start-up,
not by importing a module."""

from __future__ import annotations

from testkit.signals import receiver_counts


def test_task_counters_are_connected_by_building_the_worker_app_not_by_import() -> None:
    before, after = receiver_counts(
        setup="""
        import services.ops.tasks  # the reconciler's tasks: every worker imports them
        import services.ops.metrics  # the collector reads the counters' keys
        from services.ops import signals as ops
        """,
        hooks="[(signals.task_prerun, ops._task_started), "
        "(signals.task_postrun, ops._task_finished)]",
        build="""
        from services.entrypoints.worker import worker_app
        worker_app("store")
        worker_app("store")
        """,
    )
    assert (before, after) == ([0, 0], [1, 1])
