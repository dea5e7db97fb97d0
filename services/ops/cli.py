"""Operator commands: queues, dead, status, trace, health, flower, reconcile, sources.

Thin: each command reads the options, calls the module that does the work (``queues``,
``deadletters``, ``status``, ``trace``, ``reconcile``, ``sources``) and prints with
:mod:`services.ops.render`.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections import deque
from typing import Any

import click
from rich.console import Console
from rich.live import Live

from services.ops import deadletters, render, sources
from services.ops.deadletters import Selection
from services.ops.reconcile import reconcile as reconcile_stale
from services.ops.reenrich import reenrich
from services.ops.trace import trace_article
from shared import queues
from shared.celery_app import get_app
from shared.cli import echo_json_or_none
from shared.migrate import ensure_schema
from shared.settings import get_settings


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def _prepare_db() -> None:
    if get_settings().database_url.startswith("sqlite"):
        ensure_schema()


@click.command("queues")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (for scripts).")
@click.option("--watch", is_flag=True, help="Refresh in place with a trend per queue.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between refreshes.")
@click.option("--window", default=None, type=int, help="Seconds of history for rates and lag.")
@click.option("--no-consumers", is_flag=True, help="Skip asking the workers (faster).")
def queues_command(
    as_json: bool, watch: bool, interval: float, window: int | None, no_consumers: bool
) -> None:
    """Waiting, reserved, oldest age, consumers, rates and end-to-end lag per queue.

    Waiting and reserved are messages, from Redis itself (every priority list and
    the unacked hash), so they are right even when no worker consumes a queue.
    "articles" counts the articles the database says are on their way to that
    stage (received, not yet stored); for ingest, where nothing is recorded yet, the
    items in its messages. "in msgs" counts the articles (or raw items) inside the
    waiting and reserved messages themselves (≈: estimated from the newest 32 per
    queue when more wait); rates are articles per minute.
    """
    # Deferred on purpose: the queue snapshot (celery control, ~0.2 s) is for this command,
    # `status` and `health` only, not for every `newswire` start-up.
    from services.ops.queues import snapshot

    _prepare_db()

    def take() -> Any:
        return snapshot(window, with_consumers=not no_consumers)

    if as_json and not watch:
        click.echo(json.dumps(take().as_dict()))
        return
    if not watch:
        Console(width=None if sys.stdout.isatty() else 140).print(render.queues_table(take()))
        return
    history: dict[str, deque[int]] = {}
    with Live(refresh_per_second=4, screen=False) as live:
        try:
            while True:
                snap = take()
                if as_json:
                    click.echo(json.dumps(snap.as_dict()))
                for qs in snap.queues:
                    history.setdefault(qs.name, deque(maxlen=30)).append(qs.waiting or 0)
                if not as_json:
                    live.update(render.queues_table(snap, history))
                time.sleep(interval)
        except KeyboardInterrupt:
            pass


# ---------------------------------------------------------------- dead letters


@click.group("dead")
def dead() -> None:
    """Dead letters: messages (or articles) that failed for good."""


@dead.command("list")
@click.option(
    "--status",
    default="dead",
    show_default=True,
    type=click.Choice(["dead", "replayed", "discarded", "all"]),
)
@click.option("--reason", default=None, help="e.g. invalid_payload, error, max_attempts.")
@click.option("--task", default=None, help="e.g. enrich.tag_articles")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def dead_list(status: str, reason: str | None, task: str | None, limit: int, as_json: bool) -> None:
    """List dead letters, newest first."""
    _prepare_db()
    rows = deadletters.list_letters(
        status=None if status == "all" else status, reason=reason, task=task, limit=limit
    )
    if echo_json_or_none(rows, as_json, "no dead letters"):
        return
    for r in rows:
        click.echo(
            f"{r['id']:>6}  {r['status']:9}  {r['created_at'][:19]}  {r['task']:22}  "
            f"{r['reason']:16}  {(r['article_id'] or '-')[:12]:12}  x{r['attempts']}  {r['error']}"
        )


@dead.command("show")
@click.argument("letter_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def dead_show(letter_id: int, as_json: bool) -> None:
    """Everything about one dead letter: payload, error, traceback."""
    _prepare_db()
    letter = deadletters.get_letter(letter_id)
    if letter is None:
        _fail(f"no dead letter {letter_id}")
        return
    if as_json:
        click.echo(json.dumps(letter, ensure_ascii=False))
        return
    for key in (
        "id",
        "status",
        "task",
        "queue",
        "reason",
        "article_id",
        "trace_id",
        "attempts",
        "created_at",
        "resolved_at",
    ):
        click.echo(f"{key:12} {letter[key]}")
    click.echo(f"error        {letter['error']}")
    if letter.get("traceback"):
        click.echo("traceback:\n" + letter["traceback"].rstrip())
    click.echo("payload:\n" + json.dumps(letter["payload"], indent=2, ensure_ascii=False)[:20_000])


def _selection(ids: tuple[int, ...], all_: bool, reason: str | None, task: str | None) -> Any:
    sel = Selection(ids=ids, all=all_, reason=reason, task=task)
    if sel.empty():
        _fail("say which letters: IDs, --all, --reason REASON or --task TASK")
    return sel


@dead.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Every open dead letter.")
@click.option("--reason", default=None, help="Only letters with this reason.")
@click.option("--task", default=None, help="Only letters of this task.")
def dead_replay(ids: tuple[int, ...], all_: bool, reason: str | None, task: str | None) -> None:
    """Re-send the stored payloads (after fixing the cause); letters become 'replayed'."""
    _prepare_db()
    result = deadletters.replay(_selection(ids, all_, reason, task))
    click.echo(f"replayed {len(result['replayed'])} letter(s)")
    for f in result["failed"]:
        click.secho(f"  letter {f['id']} not replayed: {f['error']}", fg="yellow", err=True)
    if result["failed"]:
        sys.exit(1)


@dead.command("discard")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Every open dead letter.")
@click.option("--reason", default=None, help="Only letters with this reason.")
@click.option("--task", default=None, help="Only letters of this task.")
def dead_discard(ids: tuple[int, ...], all_: bool, reason: str | None, task: str | None) -> None:
    """Close letters without re-sending them (kept for the record)."""
    _prepare_db()
    done = deadletters.discard(_selection(ids, all_, reason, task))
    click.echo(f"discarded {len(done)} letter(s)")


# ---------------------------------------------------------------- status, health, trace


@click.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.option("--timeout", default=1.0, show_default=True, help="Seconds to wait for workers.")
def status(as_json: bool, timeout: float) -> None:
    """Services, workers, broker and database at a glance (exit 1 when something is down)."""
    # Deferred on purpose: the queue snapshot behind it (see `queues`).
    from services.ops.status import collect_status

    _prepare_db()
    info = collect_status(timeout)
    if as_json:
        click.echo(json.dumps(info, default=str))
    else:
        render.print_status(info)
    if not info["ok"]:
        sys.exit(1)


@click.group("health")
def health() -> None:
    """Health checks with exit codes (for compose healthchecks)."""


@health.command("worker")
@click.argument("service", type=click.Choice(list(queues.QUEUES)))
@click.option("--hostname", default=None, help="Worker host (default: this host's name).")
@click.option("--timeout", default=5.0, show_default=True)
def health_worker(service: str, hostname: str | None, timeout: float) -> None:
    """Ping the worker SERVICE@HOSTNAME; exit 0 when it answers (like `celery inspect ping -d`)."""
    from services.ops.queues import control_app  # deferred on purpose: see `queues`

    broker_url = get_settings().broker_url
    if not broker_url:
        _fail("NEWSWIRE_BROKER_URL is not set")
        return
    name = f"{service}@{hostname or os.environ.get('HOSTNAME') or socket.gethostname()}"
    try:
        replies = control_app(broker_url).control.ping(destination=[name], timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        _fail(f"broker unreachable: {exc}")
        return
    answered = any(name in reply for reply in replies or [])
    if not answered:
        _fail(f"{name} did not answer within {timeout}s")
    click.echo(f"{name}: pong")


@health.command("broker")
def health_broker() -> None:
    """Exit 0 when Redis answers PING."""
    from services.ops.queues import redis_client  # deferred on purpose: see `queues`

    try:
        redis_client().ping()
    except Exception as exc:  # noqa: BLE001
        _fail(f"broker unreachable: {exc}")
    click.echo("broker: pong")


@click.command("trace")
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True)
def trace(article_id: str, as_json: bool) -> None:
    """An article's journey (received, enriched, stored, re-sends, dead letters) with timings."""
    _prepare_db()
    info = trace_article(article_id)
    if info is None:
        _fail(f"no article {article_id!r} in the ingest records or dead letters")
        return
    if as_json:
        click.echo(json.dumps(info))
        return
    render.print_trace(info)


# ---------------------------------------------------------------- flower, reconcile


def flower_argv(port: int, address: str) -> list[str]:
    """The ``celery flower`` arguments (run on this process's app, :func:`flower`)."""
    return ["flower", f"--port={port}", f"--address={address}", "--persistent=False"]


@click.command("flower")
@click.option("--port", default=5555, show_default=True, type=int)
@click.option("--address", default="0.0.0.0", show_default=True)  # noqa: S104 - in a container
def flower(port: int, address: str) -> None:
    """Start Flower with basic auth from NEWSWIRE_FLOWER_USER / NEWSWIRE_FLOWER_PASSWORD.

    Refuses to start without both (or with a default-looking password in production):
    Flower can revoke tasks and shut workers down. The credentials reach Flower
    through its environment (FLOWER_BASIC_AUTH), never its command line.
    """
    settings = get_settings()
    if not settings.broker_url:
        _fail("NEWSWIRE_BROKER_URL is not set: Flower watches the broker")
    user, password = settings.flower.user, settings.flower.password
    if not user or not password:
        _fail(
            "set NEWSWIRE_FLOWER_USER and NEWSWIRE_FLOWER_PASSWORD: Flower never runs without "
            "authentication"
        )
        return
    if ":" in user:
        _fail("NEWSWIRE_FLOWER_USER must not contain ':'")
    # A placeholder or short password in production is refused by the settings themselves
    # (shared/settings.py, with every other secret): get_settings() above has exited.
    os.environ["FLOWER_BASIC_AUTH"] = f"{user}:{password}"
    os.environ.pop("FLOWER_AUTH", None)
    # Flower runs in this process (as `celery flower` would) on this process's app object:
    # no import path to name, the same settings; it handles SIGTERM itself.
    sys.exit(get_app().start(flower_argv(port, address)))


@click.command("reconcile")
@click.option("--after", default=None, type=int, help="Seconds (default NEWSWIRE_RECONCILE_AFTER).")
@click.option("--no-guard", is_flag=True, help="Re-send even when the queues may hold it.")
def reconcile(after: int | None, no_guard: bool) -> None:
    """Re-send articles received but not stored (what beat runs every interval)."""
    _prepare_db()
    click.echo(json.dumps(reconcile_stale(after=after, guard=not no_guard)))


# ---------------------------------------------------------------- sources


@click.command("sources")
@click.argument("source", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON document (for scripts).")
@click.option(
    "--status",
    "only",
    default=None,
    type=click.Choice(["failing", "quiet", "degraded", "ok"]),
    help="Only sources in this state.",
)
def sources_command(source: str | None, as_json: bool, only: str | None) -> None:
    """Per-source health, worst first: feeds failing (with why and the backoff), sources
    quiet far longer than usual, extraction quality dropped, rejections by reason.

    SOURCE (a name as listed, or a feed id) shows that one source in full.
    """
    _prepare_db()
    found = sources.health(source=source if source and not source.isdigit() else None)
    if source:
        found = [h for h in found if h.id == source or any(str(f["id"]) == source for f in h.feeds)]
        if not found:
            _fail(f"no source {source!r}")
    if only:
        found = [h for h in found if h.status == only]
    if as_json:
        click.echo(json.dumps({"sources": [h.as_dict() for h in found]}, ensure_ascii=False))
        return
    if source:
        click.echo(json.dumps(found[0].as_dict(), indent=2, ensure_ascii=False))
        return
    table = render.sources_table(found)
    Console(width=None if sys.stdout.isatty() else 160).print(table)


commands = [
    queues_command,
    dead,
    status,
    trace,
    health,
    flower,
    reconcile,
    reenrich,
    sources_command,
]
