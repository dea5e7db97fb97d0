"""Terminal output of the operator commands: tables (rich) and lines (click)."""

from __future__ import annotations

from collections import deque
from typing import Any

import click
from rich.table import Table

from services.ops import sources

SPARK = "▁▂▃▄▅▆▇█"


def num(value: Any, suffix: str = "") -> str:
    """A count or a rate; "-" when unknown."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return f"{value}{suffix}"


def age(seconds: float | None) -> str:
    """Seconds as 12.3s, 4.5m or 6.7h; "-" when unknown."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def sparkline(values: list[int]) -> str:
    """Values as block characters with an arrow for the trend."""
    if not values:
        return ""
    top = max(values) or 1
    line = "".join(SPARK[min(len(SPARK) - 1, int(v * (len(SPARK) - 1) / top))] for v in values)
    arrow = "→"
    if len(values) > 1:
        arrow = "↑" if values[-1] > values[0] else ("↓" if values[-1] < values[0] else "→")
    return f"{line} {arrow}"


def queues_table(snap: Any, history: dict[str, deque[int]] | None = None) -> Table:
    """``newswire queues``: one row per queue (a trend column when watching)."""
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
            num(qs.waiting),
            num(qs.reserved),
            age(qs.oldest_age_s),
            num(qs.consumers),
            num(qs.articles_pending),
            ("≈" if qs.articles_estimated else "") + num(qs.articles_waiting),
            num(qs.processed_per_min),
            num(qs.failed_per_min),
            age(qs.lag_p50_s),
            age(qs.lag_p95_s),
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


def print_status(info: dict[str, Any]) -> None:
    """``newswire status`` as lines (the dict of :func:`services.ops.status.collect_status`)."""

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
            f"queue     {name:13} waiting={num(qd['waiting'])} "
            f"reserved={num(qd['reserved'])} oldest={age(qd['oldest_age_s'])}"
        )
    click.echo(f"lag       p50={age(info['lag']['p50_s'])} p95={age(info['lag']['p95_s'])}")


def print_trace(info: dict[str, Any]) -> None:
    """``newswire trace`` as lines (the dict of :func:`services.ops.trace.trace_article`)."""
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


def sources_table(found: list[sources.SourceHealth]) -> Table:
    """``newswire sources``: one row per source, worst first."""
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
            age(h.quiet_s),
            age(h.usual_interval_s),
            str(h.articles_24h),
            sparkline(h.per_day),
            quality,
            "\n".join(h.problems) or "-",
            style=colours.get(h.status),
        )
    return table
