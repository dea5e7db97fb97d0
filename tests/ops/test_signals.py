"""The ops task counters (services/ops/signals.py) are connected by the worker's start-up,
not by importing a module."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_task_counters_are_connected_by_building_the_worker_app_not_by_import() -> None:
    # A fresh interpreter: this test process may have connected them already.
    probe = textwrap.dedent(
        """
        import weakref
        from celery import signals
        import services.ops.tasks  # the reconciler's tasks: every worker imports them
        import services.ops.metrics  # the collector reads the counters' keys
        from services.ops import signals as ops
        hooks = [(signals.task_prerun, ops._task_started),
                 (signals.task_postrun, ops._task_finished)]
        def count(sig, fn):  # receivers connected weakly are held as weak references
            live = [r() if isinstance(r, weakref.ReferenceType) else r for _, r in sig.receivers]
            return sum(1 for r in live if r is fn)
        print([count(s, f) for s, f in hooks])
        from services.entrypoints.worker import worker_app
        worker_app("store")
        worker_app("store")
        print([count(s, f) for s, f in hooks])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NEWSWIRE_BROKER_URL": ""},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[0, 0]", "[1, 1]"]
