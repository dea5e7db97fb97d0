"""The Celery app factory: JSON only, one queue per service, delivery that loses nothing.

The process's app is built on first use from the settings (:func:`get_app`), not at import;
tests that change the settings call :func:`reset_app`. Tasks are defined with Celery's
``shared_task`` (they belong to no app instance and join every app that is built), and the
entry points register them explicitly: a worker and the API import every service's task
module (``services/entrypoints/tasks.py``); the CLI registers that import as a loader
(:func:`register_tasks`), run only when a command first looks a task up (embedded mode runs
tasks in process, :mod:`shared.dispatch`), so commands that run no task do not pay for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog
from celery import Celery, Task, signals
from kombu import Queue

from shared import db, publish, queues
from shared.logging import configure_logging
from shared.settings import Settings, get_settings


def celery_config(
    settings: Settings, beat_schedule: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    transport = {
        "visibility_timeout": settings.visibility_timeout,
        "socket_keepalive": True,
        "health_check_interval": 10,
        "socket_timeout": 30,
        "socket_connect_timeout": 10,
        "retry_on_timeout": True,
        # Scan for messages of dead workers every sweep (default: every 10th), so they
        # come back right after the visibility timeout.
        "unacked_restore_throttle": 1,
    }
    return {
        "broker_url": settings.broker_url or "memory://",
        "result_backend": None,
        "task_ignore_result": True,
        # JSON only: pickle from a queue would be remote code execution.
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        "task_queues": [Queue(q, routing_key=q) for q in queues.QUEUES],
        "task_default_queue": queues.INGEST,
        "task_routes": queues.ROUTES,
        "task_create_missing_queues": False,
        # At-least-once: ack after the work, requeue when the worker dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": settings.worker_prefetch_multiplier,
        "broker_transport_options": transport,
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout},
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_heartbeat": 10,
        "broker_pool_limit": 10,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 30,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 5,
        },
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        "worker_max_memory_per_child": settings.worker_max_memory_per_child,
        "worker_max_tasks_per_child": settings.worker_max_tasks_per_child,
        "worker_concurrency": settings.worker_concurrency,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "task_track_started": True,
        "enable_utc": True,
        "timezone": "UTC",
        # beat wakes at least this often, so its heartbeat (shared.beat) stays fresh
        "beat_max_loop_interval": 30,
        # Each service declares its entries next to its tasks; the scheduler's entry point
        # (services/entrypoints/beat.py) assembles them and passes them here.
        "beat_schedule": dict(beat_schedule or {}),
    }


def create_app(
    settings: Settings | None = None, *, beat_schedule: dict[str, dict[str, Any]] | None = None
) -> Celery:
    """A Celery app from ``settings``; ``beat_schedule``: the periodic tasks (the scheduler's)."""
    settings = settings or get_settings()
    connect_signals()  # every producer (CLI, API, workers, beat) stamps its messages
    # Not the "current" app: only get_app()'s is (shared tasks look their app up through it).
    app = Celery("newswire", set_as_current=False)
    app.conf.update(celery_config(settings, beat_schedule))
    return app


_app: Celery | None = None
_app_lock = threading.Lock()
_task_loaders: list[Callable[[], object]] = []


def get_app() -> Celery:
    """This process's Celery app, built from the settings on first use (then cached)."""
    global _app
    with _app_lock:
        if _app is None:
            _app = create_app(get_settings())
            # Current and default in every thread: a ``shared_task`` object used directly
            # (``ingest_items.apply(...)``) resolves to this app, never Celery's fallback one.
            _app.set_current()
            _app.set_default()
        return _app


def reset_app() -> None:
    """Forget the app (tests, after changing the settings): the next :func:`get_app` builds
    a new one from the settings then."""
    global _app
    with _app_lock:
        app, _app = _app, None
    if app is not None:
        app.close()


def register_tasks(loader: Callable[[], object]) -> None:
    """An entry point's way to register tasks lazily: ``loader`` imports task modules; it is
    run before each :func:`get_task` (a loader is kept once; an import is cached by Python)."""
    with _app_lock:
        if loader not in _task_loaders:
            _task_loaders.append(loader)


def load_tasks() -> None:
    """Run the registered task loaders (after the first call each is a module-cache hit)."""
    with _app_lock:
        loaders = list(_task_loaders)
    for loader in loaders:
        loader()


def get_task(name: str) -> Task:
    """The task ``name`` of this process's app, after the registered loaders have run."""
    load_tasks()
    return get_app().tasks[name]


def _setup_logging(**_: Any) -> None:
    # Celery would install its own handlers; ours go through structlog instead.
    configure_logging()


def _after_fork(**_: Any) -> None:
    # Connections must never be shared across fork: drop the parent's engine.
    db.dispose_engine()
    configure_logging()


def _bind_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task_name=getattr(task, "name", None))


def _unbind_task(**_: Any) -> None:
    structlog.contextvars.clear_contextvars()


def connect_signals() -> None:
    """This process's Celery signal receivers: logging through structlog, no database
    connection across fork, the task's id in every log line, and a publish time on every
    message. Called when an app is built, not at import (idempotent: Celery keeps one
    receiver per function)."""
    publish.connect()
    signals.setup_logging.connect(_setup_logging, weak=False)
    signals.worker_process_init.connect(_after_fork, weak=False)
    signals.task_prerun.connect(_bind_task, weak=False)
    signals.task_postrun.connect(_unbind_task, weak=False)
