"""``newswire ingest`` (files, directories, URLs) and ``newswire feeds ...`` (feeds kept
in the database, polled on a schedule).

Included by :mod:`services.entrypoints.cli` from the module-level :data:`commands` list.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy import select

from services.ingest.errors import Rejected
from services.ingest.files import SUPPORTED_HELP, FileRejection, iter_files, read_file
from shared import queues
from shared.cli import echo_json_or_none
from shared.db import session_scope
from shared.migrate import ensure_schema
from shared.models import DEAD, STORED, IngestRecord
from shared.schemas import RawItem
from shared.settings import get_settings, reset_settings


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
    from services.ingest.feeds import add_feed, parse_interval  # deferred: see _run_batches

    ensure_schema()
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
    from services.ingest.feeds import feed_rows, list_feeds  # deferred: see _run_batches

    ensure_schema()
    rows = feed_rows(list_feeds())
    if echo_json_or_none(rows, as_json, "no feeds"):
        return
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
    from services.ingest.feeds import remove_feed  # deferred: see _run_batches

    ensure_schema()
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
    from services.ingest.feeds import poll_due, poll_feed  # deferred: see _run_batches

    ensure_schema()
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


# ---------------------------------------------------------------- newswire ingest

EXIT_OK, EXIT_SOME_REJECTED, EXIT_NOTHING_USABLE = 0, 1, 2
EXIT_SIGNAL: dict[int, int] = {int(signal.SIGINT): 130, int(signal.SIGTERM): 143}
SUMMARY_ORDER = (
    "read",
    "stored",
    "queued",
    "sent",
    "duplicate",
    "rejected",
    "dead-lettered",
    "skipped",
)


class Interrupt:
    """SIGINT/SIGTERM: the first asks to stop after the batch in hand, a second aborts it
    (its transaction rolls back; what it had recorded is resumed by the next run)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        click.echo(
            f"\n{signal.Signals(signum).name}: stopping after the batch in hand "
            "(send it again to abort that batch)",
            err=True,
        )


class Meter:
    """Progress on stderr: redrawn in place on a terminal, a line a second otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last = 0.0
        self._drawn = False

    def show(self, text: str, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self._last < (0.1 if self.tty else 1.0):
            return
        self._last = now
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + text)
            self._drawn = True
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled and self.tty and self._drawn:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self._drawn = False


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def split_paths(paths: tuple[str, ...]) -> tuple[list[str], list[str], list[FileRejection]]:
    """Local paths, http(s) URLs, and refusals: another scheme (ftp://) is not a path."""
    files: list[str] = []
    urls: list[str] = []
    refused: list[FileRejection] = []
    for p in paths:
        scheme = p.split("://", 1)[0].lower() if "://" in p else ""
        if scheme in {"http", "https"}:
            urls.append(p)
        elif scheme and all(c.isalnum() or c in "+-." for c in scheme):
            refused.append(
                FileRejection(
                    p, f"bad_scheme: {scheme}:// is not read (http and https URLs or local paths)"
                )
            )
        else:
            files.append(p)
    return files, urls, refused


def read_inputs(
    files: list[str], meter: Meter, interrupt: Interrupt
) -> tuple[list[RawItem], list[FileRejection]]:
    """Every item of the files; progress counted in files and bytes."""
    entries = list(iter_files(files))
    paths = [e for e in entries if isinstance(e, Path)]
    rejections = [e for e in entries if isinstance(e, FileRejection)]
    sizes = []
    for path in paths:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            sizes.append(0)
    total = sum(sizes)
    items: list[RawItem] = []
    done = 0
    for n, (path, size) in enumerate(zip(paths, sizes, strict=True), 1):
        if interrupt.requested:
            break
        for entry in read_file(path):
            if isinstance(entry, FileRejection):
                rejections.append(entry)
            else:
                items.append(entry)
        done += size
        meter.show(
            f"reading {n}/{len(paths)} files, {_size(done)} of {_size(total)}",
            final=n == len(paths),
        )
    meter.clear()
    return items, rejections


def final_statuses(article_ids: list[str]) -> dict[str, str]:
    """Ingest record status of each article: stored, dead-lettered, or still queued."""
    if not article_ids:
        return {}
    names = {STORED: "stored", DEAD: "dead-lettered"}
    out: dict[str, str] = {}
    with session_scope() as session:
        for start in range(0, len(article_ids), 500):
            rows = session.execute(
                select(IngestRecord.article_id, IngestRecord.status).where(
                    IngestRecord.article_id.in_(article_ids[start : start + 500])
                )
            )
            for aid, status in rows:
                out[aid] = names.get(status, "queued")
    return out


def exit_code(counts: Counter[str]) -> int:
    """0: all accepted or duplicate; 1: some rejected; 2: nothing usable."""
    usable = sum(counts[k] for k in ("stored", "queued", "sent", "duplicate"))
    if usable == 0:
        return EXIT_NOTHING_USABLE
    if counts["rejected"] or counts["dead-lettered"]:
        return EXIT_SOME_REJECTED
    return EXIT_OK


INGEST_HELP = f"""Send articles from files, directories or URLs through the pipeline.

\b
PATHS: files, directories (read recursively) and http(s) URLs (a page, a feed or
a sitemap). Files read: {SUPPORTED_HELP}.
What an XML or JSON file holds is told by its content, not its name. Inside a
directory every other file is named as skipped, with the reason.

\b
Exit status: 0 every item was accepted or a duplicate; 1 some were rejected
(each named with one reason line); 2 nothing usable was read, or a usage error;
130/143 interrupted (SIGINT/SIGTERM) after finishing the batch in hand: run the
same command again, it resumes what was received and skips what was stored.
"""


@click.command("ingest", help=INGEST_HELP)
@click.argument("paths", nargs=-1, required=True)
@click.option("--source", default=None, help="Source name for items that carry none.")
@click.option("--source-country", default=None, help="ISO alpha-2 country of the source.")
@click.option("--json", "as_json", is_flag=True, help="One JSON outcome per item on stdout.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress (files and bytes read, items done) on stderr [default: on a terminal].",
)
@click.option("--quiet", is_flag=True, help="No progress and no reason lines: the summary only.")
@click.option(
    "--keep-short",
    is_flag=True,
    help="Keep pages with too little main text instead of rejecting them (no_main_text).",
)
def ingest(
    paths: tuple[str, ...],
    source: str | None,
    source_country: str | None,
    as_json: bool,
    progress: bool | None,
    quiet: bool,
    keep_short: bool,
) -> None:
    settings = get_settings()
    if keep_short:
        os.environ["NEWSWIRE_INGEST_KEEP_SHORT"] = "1"  # this process and its children
        reset_settings()
    show = (sys.stderr.isatty() if progress is None else progress) and not quiet
    meter = Meter(show)
    counts: Counter[str] = Counter()
    outcomes: list[dict[str, Any]] = []
    files, urls, refused = split_paths(paths)
    with Interrupt() as interrupt:
        items: list[RawItem] = [RawItem(kind="url", url=u, origin=u) for u in urls]
        read, rejections = read_inputs(files, meter, interrupt)
        items.extend(read)
        rejections = refused + rejections
        for r in rejections:
            status = "skipped" if r.skipped else "rejected"
            counts[status] += 1
            outcomes.append({"origin": r.origin, "status": status, "reason": r.reason})
        counts["read"] = len(items) + counts["rejected"]
        for item in items:
            if source and not item.source:
                item.source = source
            if source_country and not item.source_country:
                item.source_country = source_country.upper()
        done = 0
        aborted = False
        try:
            if settings.embedded and items and not interrupt.requested:
                ensure_schema()
            done = _run_batches(items, settings.batch_size, outcomes, counts, meter, interrupt)
        except KeyboardInterrupt:
            aborted = True
        meter.clear()
    if settings.embedded:
        _settle(outcomes, counts)
    if as_json:
        for d in outcomes:
            click.echo(json.dumps(d, ensure_ascii=False))
    summary = ", ".join(f"{counts[k]} {k}" for k in SUMMARY_ORDER if counts[k])
    resumed = sum(1 for d in outcomes if d.get("reason") == "resumed")
    if resumed:
        summary += f" ({resumed} resumed from an interrupted run)"
    click.echo(f"summary: {summary or 'nothing read'}", err=as_json)
    if not as_json and not quiet:
        for d in outcomes:
            if d["status"] in {"rejected", "dead-lettered", "skipped"}:
                click.echo(f"  {d['status']} {d.get('origin') or '?'}: {d.get('reason') or '?'}")
    if interrupt.requested or aborted:
        left = len(items) - done
        what = "the batch in hand was abandoned; " if aborted else ""
        click.echo(
            f"interrupted: {done} of {len(items)} items done, {left} not started; {what}"
            f"run the same command again to finish (stored items are skipped as "
            f"duplicates, received ones resumed): {shlex.join(['newswire', 'ingest', *paths])}",
            err=True,
        )
        sys.exit(EXIT_SIGNAL.get(interrupt.signum or signal.SIGINT, 130))
    sys.exit(exit_code(counts))


def _run_batches(
    items: list[RawItem],
    size: int,
    outcomes: list[dict[str, Any]],
    counts: Counter[str],
    meter: Meter,
    interrupt: Interrupt,
) -> int:
    """Items through ingest, ``size`` at a time; stops between batches when asked."""
    # Deferred on purpose: the pipeline (database, dedup, every stage's code, ~1.5 s) and
    # backpressure's Redis client (~130 ms) are imported only when items are run, not for
    # `newswire --help` or a usage error.
    from services.ingest.pipeline import submit
    from shared.backpressure import wait_for_capacity

    settings = get_settings()
    done = 0
    for start in range(0, len(items), size):
        if interrupt.requested:
            break
        part = items[start : start + size]
        if not settings.embedded:
            # Bulk ingest waits while the pipeline's queues are over the high-water mark.
            wait_for_capacity(queues.QUEUES)
        submitted = submit(part)  # embedded: every stage runs here; else one message
        for o in submitted.outcomes:
            outcomes.append(o.as_dict())
            counts[o.status] += 1
        if submitted.sent is not None:
            counts["sent"] += submitted.sent
        done += len(part)
        meter.show(f"ingesting {done}/{len(items)} items", final=done == len(items))
    return done


def _settle(outcomes: list[dict[str, Any]], counts: Counter[str]) -> None:
    """Embedded: every stage has run; say what became of the accepted articles."""
    final = final_statuses([d["article_id"] for d in outcomes if d["status"] == "queued"])
    for d in outcomes:
        if d["status"] == "queued":
            d["status"] = final.get(d["article_id"], "queued")
            counts["queued"] -= 1
            counts[d["status"]] += 1
            if d["status"] == "dead-lettered":
                d["reason"] = "failed in a later stage; see `newswire dead list`"


commands = [ingest, feeds_group]
