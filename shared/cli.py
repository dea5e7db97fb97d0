"""``newswire``: the command line of every service.

Core commands live here; each service adds its own from ``services/<name>/cli.py``
(a module-level ``commands`` list of Click commands), found at start-up.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from shared import migrate, queues
from shared.settings import get_settings

SERVICE_CLI_MODULES = (
    "services.ingest.cli",
    "services.enrich.cli",
    "services.store.cli",
    "services.ops.cli",
)
WORKER_QUEUES = {"ingest": queues.INGEST, "enrich": queues.ENRICH, "store": queues.STORE}


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def require_reachable(database: bool = True, broker: bool = True, wait: float = 20.0) -> None:
    """Start-up check of a service: the database and the broker answer within ``wait``
    seconds, else one line naming the variable and what to do, and exit 1 (no traceback)."""
    import time
    from urllib.parse import urlsplit

    settings = get_settings()
    checks = []
    if database:
        checks.append(("NEWSWIRE_DATABASE_URL", settings.database_url, _ping_database))
    if broker and settings.broker_url:
        checks.append(("NEWSWIRE_BROKER_URL", settings.broker_url, _ping_broker))
    for variable, url, ping in checks:
        deadline = time.monotonic() + wait
        while True:
            try:
                ping(url)
                break
            except Exception as exc:  # noqa: BLE001 - reported as one line
                cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's
                reason = " ".join(str(cause).split())[:200] or type(exc).__name__
                words = ("password", "auth", "denied", "noperm", "does not exist")
                denied = any(w in reason.lower() for w in words)
                if denied or time.monotonic() >= deadline:
                    where = urlsplit(url).hostname or url.split("://")[0]
                    _fail(
                        f"cannot use {variable} (host {where}): {reason}; check the URL and its "
                        "password, and that the server is running and reachable from here"
                    )
                time.sleep(2)


def _ping_database(url: str) -> None:
    import sqlalchemy as sa

    from shared.db import normalize_url

    if url.startswith("sqlite"):
        return
    engine = sa.create_engine(
        normalize_url(url), poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def _ping_broker(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    finally:
        client.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="newswire")
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    default=None,
    help="Override NEWSWIRE_LOG_FORMAT for this command.",
)
@click.option("--log-level", default=None, help="Override NEWSWIRE_LOG_LEVEL (e.g. WARNING).")
def cli(log_format: str | None, log_level: str | None) -> None:
    """Newswire: ingest news, tag who and where it is about, store and query it.

    Without NEWSWIRE_BROKER_URL every stage runs in this process and stores into
    SQLite (./newswire.db); with it, commands queue work for the workers.
    """
    from shared.logging import configure_logging

    configure_logging(log_format, log_level or ("WARNING" if log_format is None else None))


@cli.command()
@click.argument("service", type=click.Choice(sorted(WORKER_QUEUES)))
@click.option("--concurrency", "-c", type=int, default=None, help="Pool size (default: cores).")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--pool", default="prefork", show_default=True)
def worker(service: str, concurrency: int | None, loglevel: str, pool: str) -> None:
    """Start the Celery worker of one service (ingest, enrich or store)."""
    settings = get_settings()
    if settings.embedded:
        _fail(
            "NEWSWIRE_BROKER_URL is not set: workers need a broker (embedded mode runs "
            "every stage inside `newswire ingest`)"
        )
    require_reachable()
    from shared import worker_hooks
    from shared.celery_app import app

    worker_hooks.connect()  # refused messages dead-lettered, test fault hooks
    worker_hooks.add_heartbeat(app, service)  # read by `python -m shared.heartbeat SERVICE`
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


@cli.command()
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
    import tempfile
    from pathlib import Path

    settings = get_settings()
    if settings.embedded:
        _fail(
            "NEWSWIRE_BROKER_URL is not set: the scheduler sends work to the workers through "
            "the broker (embedded mode has no schedule; run `newswire feeds poll` from cron)"
        )
    require_reachable(database=False)
    from shared.celery_app import app

    path = schedule_file or str(Path(tempfile.gettempdir()) / "newswire-beat-schedule")
    app.start(
        [
            "beat",
            "-S",
            "shared.beat:HeartbeatScheduler",
            "--schedule",
            path,
            f"--loglevel={loglevel}",
        ]
    )


@cli.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    require_reachable(broker=False)
    migrate.upgrade(revision=revision)
    click.echo(f"database at {revision}")


@db.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    try:
        migrate.check()
    except Exception as exc:  # noqa: BLE001 - alembic raises its own CommandError
        _fail(str(exc))
    click.echo("models and migrations agree")


def _load_service_commands() -> None:
    for name in SERVICE_CLI_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        for command in getattr(module, "commands", []):
            cli.add_command(command)


_load_service_commands()


def main() -> None:
    cli(prog_name="newswire")


if __name__ == "__main__":
    main()
