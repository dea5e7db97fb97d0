"""Operator commands: queues, dead, status, trace, health, flower, reconcile."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import click

from services.ops import signals  # noqa: F401 - messages queued from the CLI carry their age
from services.ops.reenrich import reenrich
from shared import queues
from shared.migrate import ensure_schema
from shared.settings import get_settings

SPARK = "▁▂▃▄▅▆▇█"


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def _prepare_db() -> None:
    if get_settings().database_url.startswith("sqlite"):
        ensure_schema()


def _num(value: Any, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return f"{value}{suffix}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def sparkline(values: list[int]) -> str:
    if not values:
        return ""
    top = max(values) or 1
    line = "".join(SPARK[min(len(SPARK) - 1, int(v * (len(SPARK) - 1) / top))] for v in values)
    arrow = "→"
    if len(values) > 1:
        arrow = "↑" if values[-1] > values[0] else ("↓" if values[-1] < values[0] else "→")
    return f"{line} {arrow}"


def _queues_table(snap: Any, history: dict[str, deque[int]] | None = None) -> Any:
    from rich.table import Table

    table = Table(
        title=f"Newswire queues  (broker {snap.broker or 'none: embedded'}, "
        f"rates over {snap.window_s}s, {snap.at:%H:%M:%S} UTC)",
        title_justify="left",
    )
    for col, justify in (
        ("queue", "left"),
        ("waiting", "right"),
        ("reserved", "right"),
        ("oldest", "right"),
        ("consumers", "right"),
        ("articles", "right"),
        ("in msgs", "right"),
        ("done/min", "right"),
        ("failed/min", "right"),
        ("lag p50", "right"),
        ("lag p95", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    if history is not None:
        table.add_column("trend (waiting)")
    for qs in snap.queues:
        row = [
            qs.name,
            _num(qs.waiting),
            _num(qs.reserved),
            _age(qs.oldest_age_s),
            _num(qs.consumers),
            _num(qs.articles_pending),
            ("≈" if qs.articles_estimated else "") + _num(qs.articles_waiting),
            _num(qs.processed_per_min),
            _num(qs.failed_per_min),
            _age(qs.lag_p50_s),
            _age(qs.lag_p95_s),
        ]
        if history is not None:
            row.append(sparkline(list(history.get(qs.name, []))))
        style = None
        if qs.name != "dead-letters" and qs.waiting and qs.consumers == 0:
            style = "yellow"
        if qs.name == "dead-letters" and qs.waiting:
            style = "red"
        table.add_row(*row, style=style)
    if snap.errors:
        table.caption = "; ".join(snap.errors)
    return table


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
    from services.ops.queues import snapshot

    _prepare_db()

    def take() -> Any:
        return snapshot(window, with_consumers=not no_consumers)

    if as_json and not watch:
        click.echo(json.dumps(take().as_dict()))
        return
    if not watch:
        from rich.console import Console

        Console(width=None if sys.stdout.isatty() else 140).print(_queues_table(take()))
        return
    from rich.live import Live

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
                    live.update(_queues_table(snap, history))
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
    from services.ops import deadletters

    _prepare_db()
    rows = deadletters.list_letters(
        status=None if status == "all" else status, reason=reason, task=task, limit=limit
    )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo("no dead letters")
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
    from services.ops import deadletters

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
    from services.ops.deadletters import Selection

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
    from services.ops import deadletters

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
    from services.ops import deadletters

    _prepare_db()
    done = deadletters.discard(_selection(ids, all_, reason, task))
    click.echo(f"discarded {len(done)} letter(s)")


# ---------------------------------------------------------------- status, health, trace


def collect_status(timeout: float = 1.0) -> dict[str, Any]:
    """Broker, database, workers, queues and dead letters at a glance."""
    from sqlalchemy import func, select, text

    from services.ops.queues import control_app, redact, redis_client, snapshot
    from shared.db import session_scope
    from shared.models import DeadLetter, IngestRecord

    settings = get_settings()
    out: dict[str, Any] = {
        "mode": "embedded" if settings.embedded else "broker",
        "env": settings.env,
    }
    if settings.broker_url:
        try:
            client = redis_client(settings.broker_url)
            started = time.perf_counter()
            client.ping()
            info = client.info()
            out["broker"] = {
                "ok": True,
                "url": redact(settings.broker_url),
                "ping_ms": round((time.perf_counter() - started) * 1000, 1),
                "redis_version": info.get("redis_version"),
                "used_memory": info.get("used_memory_human"),
                "aof_enabled": bool(info.get("aof_enabled")),
                "maxmemory_policy": info.get("maxmemory_policy"),
            }
        except Exception as exc:  # noqa: BLE001
            out["broker"] = {"ok": False, "url": redact(settings.broker_url), "error": str(exc)}
        workers: dict[str, Any] = {}
        try:
            if not out["broker"]["ok"]:
                raise RuntimeError("broker unreachable")
            inspect = control_app(settings.broker_url).control.inspect(timeout=timeout)
            for name, qs in (inspect.active_queues() or {}).items():
                workers[name] = {"queues": sorted(q["name"] for q in qs or [])}
        except Exception as exc:  # noqa: BLE001
            out["workers_error"] = str(exc)
        out["workers"] = workers
    else:
        out["broker"] = {"ok": None, "url": None, "note": "embedded: stages run in-process"}
        out["workers"] = {}
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
            try:
                revisions = sorted(
                    str(r)
                    for (r,) in session.execute(text("SELECT version_num FROM alembic_version"))
                )
            except Exception:  # noqa: BLE001 - not migrated yet
                revisions = []
        with session_scope() as session:
            records = dict(
                session.execute(
                    select(IngestRecord.status, func.count()).group_by(IngestRecord.status)
                ).all()
            )
            open_letters = session.scalar(select(func.count()).where(DeadLetter.status == "dead"))
        backlog: int | None = None
        try:
            from services.store.repository import search_backlog

            with session_scope() as session:
                backlog = search_backlog(session)
        except Exception:  # noqa: BLE001, S110 - not migrated to 0004 yet: shown as None
            pass
        from shared.db import get_engine

        out["database"] = {
            "ok": True,
            "url": redact(str(get_engine().url.render_as_string(hide_password=True))),
            "revisions": revisions,
            "articles": records,
            "dead_letters_open": open_letters,
            "search_backlog": backlog,
        }
    except Exception as exc:  # noqa: BLE001
        out["database"] = {"ok": False, "error": str(exc)}
    snap = snapshot(with_consumers=False)
    out["queues"] = {
        q.name: {"waiting": q.waiting, "reserved": q.reserved, "oldest_age_s": q.oldest_age_s}
        for q in snap.queues
    }
    out["lag"] = {"p50_s": snap.lag_p50_s, "p95_s": snap.lag_p95_s}
    served = {q for w in out["workers"].values() for q in w["queues"]}
    out["queues_without_consumers"] = (
        [q for q in queues.QUEUES if q not in served] if settings.broker_url else []
    )
    out["ok"] = bool(out["database"].get("ok") and (out["broker"].get("ok") is not False))
    return out


@click.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.option("--timeout", default=1.0, show_default=True, help="Seconds to wait for workers.")
def status(as_json: bool, timeout: float) -> None:
    """Services, workers, broker and database at a glance (exit 1 when something is down)."""
    _prepare_db()
    info = collect_status(timeout)
    if as_json:
        click.echo(json.dumps(info, default=str))
    else:

        def mark(ok: bool | None) -> str:
            return {True: "ok  ", False: "DOWN", None: "--  "}[ok]

        b, d = info["broker"], info["database"]
        click.echo(f"mode      {info['mode']} ({info['env']})")
        click.echo(
            f"broker    {mark(b.get('ok'))} {b.get('url') or ''} "
            + (
                f"redis {b.get('redis_version')}, {b.get('used_memory')}, "
                f"aof={'on' if b.get('aof_enabled') else 'off'}, "
                f"maxmemory-policy={b.get('maxmemory_policy')}, ping {b.get('ping_ms')}ms"
                if b.get("ok")
                else b.get("error") or b.get("note") or ""
            )
        )
        click.echo(
            f"database  {mark(d.get('ok'))} "
            + (
                f"{d['url']} revisions={','.join(d['revisions']) or 'none'} "
                f"articles={d['articles']} open dead letters={d['dead_letters_open']} "
                f"not yet searchable={d.get('search_backlog')}"
                if d.get("ok")
                else d.get("error", "")
            )
        )
        if info["mode"] == "broker":
            if info["workers"]:
                for name, w in sorted(info["workers"].items()):
                    click.echo(f"worker    ok   {name}  queues={','.join(w['queues'])}")
            else:
                click.echo("worker    DOWN no worker answered")
            for q in info["queues_without_consumers"]:
                click.secho(f"warning   queue {q!r} has no consumer", fg="yellow")
        for name, qd in info["queues"].items():
            click.echo(
                f"queue     {name:13} waiting={_num(qd['waiting'])} "
                f"reserved={_num(qd['reserved'])} oldest={_age(qd['oldest_age_s'])}"
            )
        click.echo(f"lag       p50={_age(info['lag']['p50_s'])} p95={_age(info['lag']['p95_s'])}")
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
    from services.ops.queues import control_app

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
    from services.ops.queues import redis_client

    try:
        redis_client().ping()
    except Exception as exc:  # noqa: BLE001
        _fail(f"broker unreachable: {exc}")
    click.echo("broker: pong")


def trace_article(article_id: str) -> dict[str, Any] | None:
    """An article's journey from the database: record, events with timings, dead letters."""
    from sqlalchemy import select

    from shared.db import session_scope
    from shared.models import DeadLetter, IngestRecord

    with session_scope() as session:
        record = session.get(IngestRecord, article_id)
        if record is None and len(article_id) >= 6:
            found = list(
                session.scalars(
                    select(IngestRecord)
                    .where(IngestRecord.article_id.startswith(article_id))
                    .limit(2)
                )
            )
            if len(found) == 1:
                record = found[0]
        letters = list(
            session.scalars(
                select(DeadLetter)
                .where(DeadLetter.article_id == (record.article_id if record else article_id))
                .order_by(DeadLetter.id)
            )
        )
        copies = (
            list(
                session.scalars(
                    select(IngestRecord.article_id).where(
                        IngestRecord.duplicate_of == record.article_id
                    )
                )
            )
            if record
            else []
        )
        if record is None and not letters:
            return None

        def iso(v: datetime | None) -> str | None:
            if v is None:
                return None
            return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()

        events: list[dict[str, Any]] = []
        if record is not None:
            events.append(
                {
                    "at": iso(record.received_at),
                    "event": "received",
                    "detail": f"from {record.origin or record.source or '?'}",
                }
            )
            if record.status == "duplicate":
                events.append(
                    {
                        "at": iso(record.received_at),
                        "event": "duplicate",
                        "detail": f"of {record.duplicate_of} (similarity {record.similarity})",
                    }
                )
            if record.last_sent_at and (record.sends or 0) > 1:
                events.append(
                    {
                        "at": iso(record.last_sent_at),
                        "event": "resent",
                        "detail": f"sent {record.sends} times in all",
                    }
                )
            if record.enriched_at:
                events.append({"at": iso(record.enriched_at), "event": "enriched", "detail": ""})
            if record.stored_at:
                events.append({"at": iso(record.stored_at), "event": "stored", "detail": ""})
        for d in letters:
            events.append(
                {
                    "at": iso(d.created_at),
                    "event": "dead_lettered",
                    "detail": f"letter {d.id} [{d.status}] {d.task} {d.reason} "
                    f"after {d.attempts} attempt(s): {d.error.splitlines()[0][:160]}",
                }
            )
            if d.resolved_at:
                events.append(
                    {"at": iso(d.resolved_at), "event": d.status, "detail": f"letter {d.id}"}
                )
        # The enrich task records its end after handing the batch to the store, so a fast
        # store can finish first: order "enriched" before "stored" all the same.
        rank = {"enriched": 0, "stored": 1}
        stored_at = iso(record.stored_at) if record is not None else None

        def order(e: dict[str, Any]) -> tuple[str, int]:
            at = e["at"] or ""
            if e["event"] == "enriched" and stored_at and at > stored_at:
                at = stored_at
            return at, rank.get(e["event"], 0)

        events.sort(key=order)
        start = record.received_at if record is not None else None
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        for e in events:
            if start is not None and e["at"]:
                e["t_plus_s"] = round((datetime.fromisoformat(e["at"]) - start).total_seconds(), 3)
        return {
            "article_id": record.article_id if record else article_id,
            "trace_id": record.trace_id if record else (letters[0].trace_id if letters else None),
            "status": record.status if record else None,
            "attempts": record.attempts if record else None,
            "sends": record.sends if record else None,
            "last_error": record.last_error if record else None,
            "duplicates": copies,
            "events": events,
        }


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
    click.secho(
        f"article {info['article_id']}  trace {info['trace_id']}  status "
        f"{info['status']}  sends {info['sends']}  attempts {info['attempts']}",
        bold=True,
    )
    for e in info["events"]:
        t = f"+{e['t_plus_s']:.3f}s" if "t_plus_s" in e else ""
        click.echo(f"  {e['at'] or '-':32} {t:>12}  {e['event']:14} {e['detail']}")
    if info["last_error"]:
        click.echo(f"  last error: {info['last_error']}")
    if info["duplicates"]:
        click.echo(f"  duplicates recorded: {', '.join(info['duplicates'])}")


# ---------------------------------------------------------------- flower, reconcile


def flower_argv(port: int, address: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "shared.celery_app:app",
        "flower",
        f"--port={port}",
        f"--address={address}",
        "--persistent=False",
    ]


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
    env = dict(os.environ)
    env["FLOWER_BASIC_AUTH"] = f"{user}:{password}"
    env.pop("FLOWER_AUTH", None)
    argv = flower_argv(port, address)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)  # noqa: S606 - replace this process (signals, PID 1)


@click.command("reconcile")
@click.option("--after", default=None, type=int, help="Seconds (default NEWSWIRE_RECONCILE_AFTER).")
@click.option("--no-guard", is_flag=True, help="Re-send even when the queues may hold it.")
def reconcile(after: int | None, no_guard: bool) -> None:
    """Re-send articles received but not stored (what beat runs every interval)."""
    from services.ops.reconcile import reconcile as run

    _prepare_db()
    click.echo(json.dumps(run(after=after, guard=not no_guard)))


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
    from services.ops import sources

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
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Newswire sources (worst first)", title_justify="left")
    for col, justify in (
        ("source", "left"),
        ("status", "left"),
        ("last article", "right"),
        ("usually", "right"),
        ("24h", "right"),
        ("30 days", "left"),
        ("date/author/body", "right"),
        ("problems", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    colours = {"failing": "red", "quiet": "yellow", "degraded": "magenta"}
    for h in found:
        recent = h.quality.get("recent")
        quality = (
            " / ".join("-" if recent[m] is None else f"{recent[m]:.0%}" for m in sources.MEASURES)
            if recent
            else "-"
        )
        table.add_row(
            h.id,
            h.status,
            _age(h.quiet_s),
            _age(h.usual_interval_s),
            str(h.articles_24h),
            sparkline(h.per_day),
            quality,
            "\n".join(h.problems) or "-",
            style=colours.get(h.status),
        )
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
