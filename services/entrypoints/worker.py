"""``newswire worker SERVICE`` and ``newswire scheduler``: start-up of the Celery processes.

The worker connects the worker-side hooks (refused messages dead-lettered, test fault
hooks), the ops task counters and its heartbeat (:func:`worker_app`); the scheduler runs
beat with the heartbeat scheduler. Both check the database and the broker first
(:mod:`services.entrypoints.startup`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from celery import Celery

from services.entrypoints.startup import fail, require_reachable
from services.ops import signals as ops_signals
from shared import queues, worker_hooks
from shared.celery_app import get_app
from shared.settings import get_settings

WORKER_QUEUES = {"ingest": queues.INGEST, "enrich": queues.ENRICH, "store": queues.STORE}


def worker_app(service: str) -> Celery:
    """The app a worker of ``service`` runs: every service's tasks, the worker-side hooks,
    the ops task counters and the heartbeat (connecting again connects nothing twice)."""
    # Deferred on purpose: every service's task modules (~0.7 s), needed by this command only.
    from services.entrypoints import tasks  # noqa: F401 - registers every service's tasks

    app = get_app()
    worker_hooks.connect()  # refused messages dead-lettered, test fault hooks
    ops_signals.connect()  # task counters and durations for /metrics
    worker_hooks.add_heartbeat(app, service)  # read by `python -m shared.heartbeat SERVICE`
    return app


@click.command()
@click.argument("service", type=click.Choice(sorted(WORKER_QUEUES)))
@click.option("--concurrency", "-c", type=int, default=None, help="Pool size (default: cores).")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--pool", default="prefork", show_default=True)
def worker(service: str, concurrency: int | None, loglevel: str, pool: str) -> None:
    """Start the Celery worker of one service (ingest, enrich or store)."""
    settings = get_settings()
    if settings.embedded:
        fail(
            "NEWSWIRE_BROKER_URL is not set: workers need a broker (embedded mode runs "
            "every stage inside `newswire ingest`)"
        )
    require_reachable()
    app = worker_app(service)
    argv = [
        "worker",
        "-Q",
        WORKER_QUEUES[service],
        "-n",
        f"{service}@%h",
        f"--loglevel={loglevel}",
        f"--pool={pool}",
        "-E",
    ]
    if concurrency or settings.worker_concurrency:
        argv.append(f"--concurrency={concurrency or settings.worker_concurrency}")
    app.worker_main(argv)


@click.command()
@click.option(
    "--schedule-file",
    default=None,
    help="Where beat keeps its last-run times (default: newswire-beat-schedule in the temp dir).",
)
@click.option("--loglevel", default="INFO", show_default=True)
def scheduler(schedule_file: str | None, loglevel: str) -> None:
    """Start the scheduler (Celery beat): feed polling, reconcile, search index, story sweep.

    Checks the broker first (one line and exit 1 when it does not answer, where plain
    ``celery beat`` retries forever) and keeps the ``scheduler`` heartbeat file fresh for
    the health check (``python -m shared.heartbeat scheduler``)."""
    settings = get_settings()
    if settings.embedded:
        fail(
            "NEWSWIRE_BROKER_URL is not set: the scheduler sends work to the workers through "
            "the broker (embedded mode has no schedule; run `newswire feeds poll` from cron)"
        )
    require_reachable(database=False)
    # Deferred on purpose: the beat app imports the task modules of ingest, store and ops
    # for their schedules (~0.3 s), needed by this command only.
    from services.entrypoints.beat import app as beat_app

    path = schedule_file or str(Path(tempfile.gettempdir()) / "newswire-beat-schedule")
    beat_app.start(
        [
            "beat",
            "-S",
            "shared.beat:HeartbeatScheduler",
            "--schedule",
            path,
            f"--loglevel={loglevel}",
        ]
    )
