"""Store commands for ``newswire``: ``articles``, ``export``, ``search-index``, ``stories``."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from services.store.queries import (
    ArticleFilters,
    QueryError,
    count_articles,
    iter_articles,
    list_articles,
    parse_when,
)
from shared.cli import echo_json_or_none
from shared.db import get_sessionmaker, session_scope
from shared.migrate import ensure_schema
from shared.settings import get_settings

F = TypeVar("F", bound=Callable[..., Any])

CSV_COLUMNS = (
    "id",
    "dated_at",
    "published_at",
    "source",
    "url",
    "title",
    "language",
    "countries",
    "focus_countries",
    "regions",
    "people",
    "organizations",
    "places",
    "entities",
    "tagger_version",
    "body",
)


def filter_options(func: F) -> F:
    """The filters of ``GET /articles`` as options (same names, same meaning)."""
    options = [
        click.option("--q", "-q", "q", default=None, help="Full text over title and body."),
        click.option(
            "--entity", multiple=True, help="Canonical entity name (repeat: all of them)."
        ),
        click.option("--label", default=None, help="Entity label, e.g. PERSON, ORG."),
        click.option(
            "--country", multiple=True, help="ISO alpha-2 country (repeat or IQ,TR: all)."
        ),
        click.option(
            "--region", multiple=True, help="Region code (145, middle-east) or name; repeatable."
        ),
        click.option(
            "--focus-country", multiple=True, help="ISO alpha-2 country the article focuses on."
        ),
        click.option("--source", default=None, help="Source name."),
        click.option("--language", default=None, help="Language code, e.g. en."),
        click.option("--since", default=None, help="From: ISO date/datetime, today, 24h, 7d."),
        click.option("--until", default=None, help="Until (exclusive), same formats."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_filters(**options: Any) -> Any:
    """ArticleFilters from the options; a bad value exits with a readable message."""
    keys = (
        "q",
        "entity",
        "label",
        "country",
        "region",
        "focus_country",
        "source",
        "language",
        "since",
        "until",
    )
    try:
        return ArticleFilters.build(**{k: options.get(k) for k in keys})
    except QueryError as exc:
        raise click.BadParameter(
            exc.message, param_hint=f"--{exc.field.replace('_', '-')}"
        ) from None


def progress_bar(quiet: bool) -> Any:
    """A progress bar on stderr, shown only on a terminal and unless --quiet."""
    console = Console(stderr=True)
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=True,
    )


def _prepare_database() -> None:
    ensure_schema()  # the embedded SQLite default: created or upgraded on first use


def csv_row(article: dict[str, Any], with_body: bool) -> dict[str, Any]:
    def names(label: str) -> str:
        return "; ".join(e["canonical"] for e in article["entities"] if e["label"] == label)

    return {
        "id": article["id"],
        "dated_at": article.get("dated_at"),
        "published_at": article["published_at"],
        "source": article["source"],
        "url": article["url"],
        "title": article["title"],
        "language": article["language"],
        "countries": " ".join(c["code"] for c in article["countries"]),
        "focus_countries": " ".join(c["code"] for c in article["countries"] if c["focus"]),
        "regions": "; ".join(r["name"] for r in article["regions"]),
        "people": names("PERSON"),
        "organizations": names("ORG"),
        "places": "; ".join(
            e["canonical"] for e in article["entities"] if e["label"] in ("GPE", "LOC")
        ),
        "entities": "; ".join(f"{e['canonical']} ({e['label']})" for e in article["entities"]),
        "tagger_version": (article.get("enrichment") or {}).get("tagger_version"),
        "body": article.get("body", "") if with_body else "",
    }


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON Lines (every tag) or CSV (one row per article, tags joined).",
)
@filter_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of stdout.",
)
@click.option("--order", type=click.Choice(["desc", "asc"]), default="desc", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N articles.")
@click.option("--no-body", is_flag=True, help="Leave article bodies out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export(
    fmt: str,
    output: Path | None,
    order: str,
    limit: int | None,
    no_body: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Stream stored articles matching the filters as JSON Lines or CSV."""
    filters = build_filters(**options)
    _prepare_database()
    stream: IO[str] = (
        output.open("w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
    )
    written = 0
    try:
        with get_sessionmaker()() as session:
            total = count_articles(session, filters)
            if limit is not None:
                total = min(total, limit)
            writer = None
            if fmt == "csv":
                writer = csv.DictWriter(stream, fieldnames=list(CSV_COLUMNS))
                writer.writeheader()
            with progress_bar(quiet) as progress:
                bar = progress.add_task("exporting", total=total)
                for article in iter_articles(session, filters, order=order):  # type: ignore[arg-type]
                    if limit is not None and written >= limit:
                        break
                    if no_body:
                        article.pop("body", None)
                    if writer is not None:
                        writer.writerow(csv_row(article, not no_body))
                    else:
                        stream.write(json.dumps(article, ensure_ascii=False) + "\n")
                    written += 1
                    progress.advance(bar)
    finally:
        if output:
            stream.close()
        else:
            stream.flush()
    click.echo(f"exported {written} articles", err=True)


@click.command("search-index")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Rebuild every article's document (e.g. after an upgrade), not only the queued ones.",
)
@click.option("--batch", type=click.IntRange(1, 10_000), default=1000, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def search_index(everything: bool, batch: int, quiet: bool) -> None:
    """Build the full-text documents of stored articles that are not searchable yet.

    The store worker does this right after each batch and a periodic sweep catches
    up on anything left, so this is for operators: after an upgrade that queued
    every article, or to rebuild everything with --all. PostgreSQL only (SQLite
    searches the articles directly)."""
    # Deferred on purpose: the repository and the store task module (~0.2 s) are for this
    # command only, not for every `newswire` start-up.
    from services.store.repository import queue_all_for_search, search_backlog
    from services.store.tasks import index_pending

    if not get_settings().database_url.startswith("postgresql"):
        click.echo("SQLite searches the articles directly: nothing to index.", err=True)
        return
    with session_scope() as session:
        if everything:
            queue_all_for_search(session)
        total = search_backlog(session)
    with progress_bar(quiet) as progress:
        bar = progress.add_task("indexing", total=total)
        done = index_pending(
            batch=batch, budget_s=None, progress=lambda n: progress.advance(bar, n)
        )
    with session_scope() as session:
        left = search_backlog(session)
    click.echo(f"indexed {done} articles; {left} still queued", err=True)


def _story_line(story: dict[str, Any]) -> str:
    places = ",".join(c["code"] for c in story["countries"][:4])
    state = "open" if story["open"] else "closed"
    return (
        f"{story['id']:>7}  {story['article_count']:>4} art {story['source_count']:>3} src  "
        f"{story['growth']:>5.1f}/h  {(story['last_seen'] or '')[:16]}  {state:<6}  "
        f"{places:<11}  {story['title'][:80]}"
    )


@click.group("stories", invoke_without_command=True)
@click.option("--q", "-q", "q", default=None, help="Full text over the stories' articles.")
@click.option("--entity", multiple=True, help="Canonical entity name (repeat: all of them).")
@click.option("--country", multiple=True, help="ISO alpha-2 country (repeat or IQ,TR: all).")
@click.option("--region", multiple=True, help="Region code (145, middle-east) or name.")
@click.option("--since", default=None, help="Has an article from: ISO date/datetime, 24h, 7d.")
@click.option("--until", default=None, help="Has an article before (exclusive), same formats.")
@click.option("--min-articles", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--sort", type=click.Choice(["recency", "size", "growth"]), default="recency", show_default=True
)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def stories(ctx: click.Context, sort: str, limit: int, as_json: bool, **options: Any) -> None:
    """Stories: one event across sources. Without a subcommand, list them (the filters
    and sorts of GET /stories)."""
    if ctx.invoked_subcommand is not None:
        return
    # Deferred on purpose: the story queries and clustering (~0.2 s) are for the stories
    # commands only.
    from services.store.story_queries import StoryFilters, search_stories, story_dict

    try:
        filters = StoryFilters.build(**options)
    except QueryError as exc:
        raise click.BadParameter(
            exc.message, param_hint=f"--{exc.field.replace('_', '-')}"
        ) from None
    _prepare_database()
    with get_sessionmaker()() as session:
        page = search_stories(session, filters, sort=sort, limit=limit)
        rows = [story_dict(s) for s in page.stories]
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False) if as_json else _story_line(row))
    if not rows and not as_json:
        click.echo("no stories match", err=True)


@stories.command("show")
@click.argument("story_id", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="The story as one JSON object.")
def stories_show(story_id: int, as_json: bool) -> None:
    """One story with its articles."""
    from services.store.story_queries import get_story  # deferred: see `stories`

    _prepare_database()
    with get_sessionmaker()() as session:
        story = get_story(session, story_id)
    if story is None:
        raise click.ClickException(f"no story with id {story_id}")
    if as_json:
        click.echo(json.dumps(story, ensure_ascii=False))
        return
    click.echo(_story_line(story))
    click.echo(
        "  entities: " + "; ".join(f"{e['name']} ({e['articles']})" for e in story["entities"])
    )
    for a in story["articles"]:
        copies = f" x{a['copies']}" if a["copies"] > 1 else ""
        click.echo(
            f"  {(a['dated_at'] or '')[:16]}  {a['source'] or '?':<20}  {a['title']}{copies}"
        )


@stories.command("rebuild")
@click.option(
    "--since",
    default=None,
    help="Regroup the stories with an article from this date on (default: all).",
)
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def stories_rebuild(since: str | None, batch: int, quiet: bool) -> None:
    """Recompute stories (after a tagger or threshold change): the stories reaching
    --since are dissolved and their articles grouped again in date order. Running it
    twice gives the same grouping."""
    from services.store import stories as clustering  # deferred: see `stories`

    try:
        when = parse_when(since, "since")
    except QueryError as exc:
        raise click.BadParameter(exc.message, param_hint="--since") from None
    _prepare_database()
    with progress_bar(quiet) as progress:
        bar = progress.add_task("grouping", total=None)

        def started(dissolved: int, articles: int) -> None:
            click.echo(f"dissolved {dissolved} stories; grouping {articles} articles", err=True)
            progress.update(bar, total=articles)

        done = clustering.rebuild(
            since=when,
            batch=batch,
            progress=lambda n: progress.advance(bar, n),
            on_reset=started,
        )
    click.echo(
        f"grouped {done.articles} articles: {done.created} stories, "
        f"{done.joined} joined an existing one",
        err=True,
    )


@click.command("articles")
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
    ensure_schema()
    try:
        with session_scope() as session:
            rows = list_articles(session, limit=limit, **filters)
    except QueryError as exc:
        raise click.BadParameter(
            exc.message, param_hint=f"--{exc.field.replace('_', '-')}"
        ) from None
    if echo_json_or_none(rows, as_json, "no articles"):
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


commands = [articles, export, search_index, stories]
