"""``newswire``: the command line of every service.

Core commands live here; each service adds its own from ``services/<name>/cli.py``
(a module-level ``commands`` list of Click commands), found at start-up.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from typing import Any

import click

from shared import queues
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


def ensure_embedded_schema() -> None:
    """On the embedded SQLite default, create or upgrade the schema on first use."""
    settings = get_settings()
    if settings.database_url.startswith("sqlite"):
        from services.store import migrate

        migrate.upgrade()


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
@click.option("--q", "-q", "q", default=None, help="Full text over title and body.")
@click.option("--entity", multiple=True, help="Entity canonical name (repeat: all of them).")
@click.option("--label", default=None, help="Entity label, e.g. PERSON, ORG.")
@click.option("--country", multiple=True, help="ISO alpha-2 country (repeat or IQ,TR: all).")
@click.option("--region", multiple=True, help="Region code (145, middle-east) or name.")
@click.option("--focus-country", multiple=True, help="ISO alpha-2 country in focus.")
@click.option("--source", default=None, help="Source name.")
@click.option("--language", default=None, help="Language code, e.g. en.")
@click.option("--since", default=None, help="From: ISO date/datetime, today, 24h, 7d.")
@click.option("--until", default=None, help="Until (exclusive), same formats.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def articles(limit: int, as_json: bool, **filters: Any) -> None:
    """List stored articles, newest first (the filters of GET /articles)."""
    from services.store.queries import QueryError, list_articles
    from shared.db import session_scope

    if get_settings().database_url.startswith("sqlite"):
        ensure_embedded_schema()
    try:
        with session_scope() as session:
            rows = list_articles(session, limit=limit, **filters)
    except QueryError as exc:
        raise click.BadParameter(
            exc.message, param_hint=f"--{exc.field.replace('_', '-')}"
        ) from None
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("no articles")
        return
    for row in rows:
        people = [e["canonical"] for e in row["entities"] if e["label"] == "PERSON"][:4]
        orgs = [e["canonical"] for e in row["entities"] if e["label"] == "ORG"][:4]
        countries = [c["code"] + ("*" if c.get("focus") else "") for c in row["countries"]]
        title = row["title"] or "(no title)"
        click.secho(f"{row['id'][:12]}  {row['published_at'] or '-':25.25}  {title}", bold=True)
        click.echo(
            f"    countries: {' '.join(countries) or '-'}   people: "
            f"{', '.join(people) or '-'}   orgs: {', '.join(orgs) or '-'}"
        )


@cli.command()
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1000))
def tag(batch_size: int) -> None:
    """Tag JSON Lines from stdin (id, body, optional title); one JSON line out per input.

    The enrich step alone: no broker, no database. A line that is not valid gets
    {"id": ..., "error": ...} in its place.
    """
    from services.enrich.tagger import get_tagger

    tagger = get_tagger()

    def flush(
        batch: list[tuple[int, dict[str, Any]]], errors: dict[int, dict[str, Any]], total: int
    ) -> None:
        results = tagger.tag_many([d for _, d in batch], batch_size=batch_size) if batch else []
        by_line = {n: r for (n, _), r in zip(batch, results, strict=True)}
        for n in range(total):
            if n in errors:
                out = errors[n]
            else:
                r = by_line[n]
                out = {k: r[k] for k in ("id", "entities", "countries", "regions", "enrichment")}
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    batch: list[tuple[int, dict[str, Any]]] = []
    errors: dict[int, dict[str, Any]] = {}
    n = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("body"), str):
                raise ValueError("expected an object with a string 'body'")
            obj.setdefault("id", str(n + 1))
            obj["id"] = str(obj["id"])
            batch.append((n, obj))
        except ValueError as exc:
            errors[n] = {"id": None, "line": n + 1, "error": str(exc)}
            click.secho(f"line {n + 1}: {exc}", fg="yellow", err=True)
        n += 1
        if len(batch) + len(errors) >= batch_size:
            flush(batch, errors, n)
            # Renumber: everything so far is written.
            batch, errors, n = [], {}, 0
    flush(batch, errors, n)


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
    from shared.celery_app import app

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


@cli.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from services.store import migrate

    require_reachable(broker=False)
    migrate.upgrade(revision=revision)
    click.echo(f"database at {revision}")


@db.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    from services.store import migrate

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
