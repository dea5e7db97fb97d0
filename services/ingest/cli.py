"""``newswire feeds ...``: feeds kept in the database, polled on a schedule.

Loaded by :mod:`shared.cli` through the module-level :data:`commands` list.
"""

from __future__ import annotations

import json
import sys

import click

from shared.settings import get_settings


def _schema() -> None:
    from shared.cli import ensure_embedded_schema

    ensure_embedded_schema()


@click.group("feeds")
def feeds_group() -> None:
    """RSS, Atom and JSON feeds polled on a schedule (Celery beat, `scheduler`)."""


@feeds_group.command("add")
@click.argument("url")
@click.option(
    "--interval",
    default="15m",
    show_default=True,
    help="Time between polls: seconds or 30s/15m/2h/1d (at least 60 s).",
)
@click.option("--source", default=None, help="Source name for the feed's articles.")
@click.option("--source-country", default=None, help="ISO alpha-2 country of the source.")
def feeds_add(url: str, interval: str, source: str | None, source_country: str | None) -> None:
    """Add a feed by URL."""
    from services.ingest.feeds import add_feed, parse_interval
    from services.ingest.prepare import Rejected

    _schema()
    try:
        seconds = parse_interval(interval)
        feed = add_feed(url, interval=seconds, source=source, source_country=source_country)
    except (ValueError, Rejected) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    click.echo(f"feed {feed.id} added: {url} every {seconds} s")


@feeds_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
def feeds_list(as_json: bool) -> None:
    """List feeds with their last poll status."""
    from services.ingest.feeds import feed_rows, list_feeds

    _schema()
    rows = feed_rows(list_feeds())
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo("no feeds")
        return
    from rich.console import Console
    from rich.table import Column, Table

    table = Table(
        "id",
        Column("url", overflow="fold"),
        "every",
        "status",
        "last poll",
        "next poll",
        "items",
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["url"] + ("" if r["enabled"] else " (disabled)"),
            f"{r['interval']} s",
            r["last_status"] or "-",
            (r["last_polled_at"] or "-")[:19].replace("T", " "),
            (r["next_poll_at"] or "-")[:19].replace("T", " "),
            str(r["items_seen"]),
        )
    Console().print(table)


@feeds_group.command("remove")
@click.argument("feed")
def feeds_remove(feed: str) -> None:
    """Remove a feed by id or URL."""
    from services.ingest.feeds import remove_feed

    _schema()
    if not remove_feed(feed):
        click.secho(f"error: no feed {feed}", fg="red", err=True)
        sys.exit(1)
    click.echo(f"feed {feed} removed")


@feeds_group.command("poll")
@click.argument("feed_id", required=False, type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON result per feed.")
def feeds_poll(feed_id: int | None, as_json: bool) -> None:
    """Poll one feed now (by id), or every feed that is due.

    Embedded, the items go through the whole pipeline here; with a broker, they are
    queued for the ingest workers.
    """
    from services.ingest.feeds import poll_due, poll_feed

    _schema()
    results = [poll_feed(feed_id)] if feed_id is not None else poll_due()
    for r in results:
        if as_json:
            click.echo(json.dumps(r.as_dict()))
            continue
        counts = ", ".join(f"{v} {k}" for k, v in sorted(r.counts.items())) or "no new items"
        line = f"feed {r.feed_id}: {r.status}"
        line += f" ({r.items} items: {counts})" if r.status == "ok" else ""
        line += f" - {r.error}" if r.error else ""
        click.echo(line)
    if not results and not as_json:
        click.echo("no feed is due")
    if get_settings().embedded is False and results:
        click.echo("items queued for the ingest workers", err=True)
    if any(r.status == "missing" for r in results):
        sys.exit(1)


commands = [feeds_group]
