"""The process's Celery app: built from the settings on first use, rebuilt after reset_app(),
tasks found through the loaders an entry point registers."""

from __future__ import annotations

import importlib
import sys

import pytest

from shared import celery_app, dispatch
from testkit.signals import receiver_counts

PROBE_MODULE = "tests.shared.apptasks"
LOADED: list[str] = []


def _load_probe() -> None:
    LOADED.append(PROBE_MODULE)
    importlib.import_module(PROBE_MODULE)


def test_the_app_is_built_once_from_the_settings(env: pytest.MonkeyPatch) -> None:
    first = celery_app.get_app()
    assert celery_app.get_app() is first
    assert first.conf.broker_url == "memory://"  # embedded: no broker configured
    env.setenv("NEWSWIRE_BROKER_URL", "redis://127.0.0.1:6379/15")  # the fixture resets it
    second = celery_app.get_app()
    assert second is not first
    assert second.conf.broker_url == "redis://127.0.0.1:6379/15"
    assert second.conf.task_acks_late and second.conf.task_reject_on_worker_lost
    # shared tasks used directly resolve to this app, not Celery's fallback app
    from services.store.tasks import store_articles

    assert store_articles.app is second


def test_embedded_dispatch_runs_a_task_registered_by_a_loader(env: pytest.MonkeyPatch) -> None:
    env.setattr(celery_app, "_task_loaders", [])  # this test's loaders only, restored after
    assert PROBE_MODULE not in sys.modules
    with pytest.raises(KeyError):
        celery_app.get_app().tasks["apptest.probe"]  # nothing has imported its module yet
    celery_app.register_tasks(_load_probe)
    celery_app.register_tasks(_load_probe)  # kept once
    dispatch.send("apptest.probe", {"n": 1})  # embedded: runs in this process
    dispatch.send("apptest.probe", {"n": 2})
    assert sys.modules[PROBE_MODULE].CALLS == [{"n": 1}, {"n": 2}]
    assert LOADED == [PROBE_MODULE, PROBE_MODULE]  # before each lookup


def test_signal_receivers_are_connected_by_building_an_app_not_by_import() -> None:
    before, after = receiver_counts(
        setup="from shared import celery_app",
        hooks="[(signals.setup_logging, celery_app._setup_logging), "
        "(signals.worker_process_init, celery_app._after_fork), "
        "(signals.task_prerun, celery_app._bind_task), "
        "(signals.task_postrun, celery_app._unbind_task)]",
        build="celery_app.create_app()\ncelery_app.create_app()",
    )
    assert (before, after) == ([0, 0, 0, 0], [1, 1, 1, 1])
