"""The Celery app factory: JSON only, one queue per service, delivery that loses nothing."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery, signals
from kombu import Queue

from shared import db, publish, queues
from shared.logging import configure_logging
from shared.settings import Settings, get_settings

TASK_MODULES = [
    "services.ingest.tasks",
    "services.enrich.tasks",
    "services.store.tasks",
    "services.ops.tasks",
]


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
    app = Celery("newswire", include=TASK_MODULES)
    app.conf.update(celery_config(settings, beat_schedule))
    return app


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Celery would install its own handlers; ours go through structlog instead.
    configure_logging()


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    # Connections must never be shared across fork: drop the parent's engine.
    db.dispose_engine()
    configure_logging()


@signals.task_prerun.connect
def _bind_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task_name=getattr(task, "name", None))


@signals.task_postrun.connect
def _unbind_task(**_: Any) -> None:
    structlog.contextvars.clear_contextvars()


publish.connect()  # every producer (CLI, API, workers, beat) stamps its messages
app = create_app()
