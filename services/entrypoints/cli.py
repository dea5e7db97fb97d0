"""``newswire``: the command line of every service (the console script).

Core commands live here (``db``) and in :mod:`services.entrypoints.worker` (``worker``,
``scheduler``); every service's commands are included explicitly from its
``services/<name>/cli.py`` (a module-level ``commands`` list of Click commands).
"""

from __future__ import annotations

import click

from services.enrich import cli as enrich_cli
from services.entrypoints.startup import fail, require_reachable
from services.entrypoints.worker import scheduler, worker
from services.ingest import cli as ingest_cli
from services.ops import cli as ops_cli
from services.store import cli as store_cli
from shared import celery_app, migrate
from shared.logging import configure_logging


def _load_tasks() -> None:
    # Deferred on purpose: every service's task modules (~0.7 s), imported only when a
    # command first runs a task in this process (embedded mode: shared.dispatch.send).
    from services.entrypoints import tasks  # noqa: F401 - registers them


celery_app.register_tasks(_load_tasks)


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
    configure_logging(log_format, log_level or ("WARNING" if log_format is None else None))


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
        fail(str(exc))
    click.echo("models and migrations agree")


cli.add_command(worker)
cli.add_command(scheduler)
for command in (
    *ingest_cli.commands,
    *enrich_cli.commands,
    *store_cli.commands,
    *ops_cli.commands,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="newswire")


if __name__ == "__main__":
    main()
