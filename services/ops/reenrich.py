"""``newswire reenrich``: send stored articles through enrich again.

An operator command: it reads the store and queues to enrich, so it lives in ops (which may
read every stage), not in either stage.
"""

from __future__ import annotations

import sys

import click
from rich.progress import Progress

from services.store.queries import QueryError, iter_article_payloads, parse_when
from shared import dispatch, queues
from shared.db import session_scope
from shared.migrate import ensure_schema
from shared.schemas import ArticleBatch, ArticlePayload, dump
from shared.settings import get_settings


@click.command("reenrich")
@click.option(
    "--before-version",
    default=None,
    metavar="V",
    help="Only articles tagged by a tagger version other than V "
    "(e.g. the current one, to catch up everything older).",
)
@click.option(
    "--since",
    default=None,
    metavar="DATE",
    help="Only articles published (or ingested) at or after DATE.",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="At most N articles.")
@click.option("--dry-run", is_flag=True, help="Count what would be re-enriched, send nothing.")
def reenrich(
    before_version: str | None, since: str | None, limit: int | None, dry_run: bool
) -> None:
    """Re-tag stored articles with the current tagger, replacing their tags.

    Embedded (no broker): tags and stores in this process. With a broker: queues
    the articles to `enrich` in batches; the store replaces their tags idempotently.
    """
    settings = get_settings()
    if settings.database_url.startswith("sqlite"):
        ensure_schema()
    try:
        since_dt = parse_when(since, "since") if since else None
    except QueryError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    if before_version is None:
        # Deferred on purpose: the tagger module loads spaCy; every other command skips it.
        from services.enrich.tagger import TAGGER_VERSION

        click.echo(
            f"re-enriching every article not tagged by {TAGGER_VERSION} (the current tagger)",
            err=True,
        )
        before_version = TAGGER_VERSION

    # Read the ids first so that re-stored rows never shift the reading window.
    with session_scope() as session:
        payloads = []
        for row in iter_article_payloads(session, before_version=before_version, since=since_dt):
            payloads.append(row)
            if limit and len(payloads) >= limit:
                break
    if dry_run:
        click.echo(f"{len(payloads)} articles would be re-enriched")
        return
    size = settings.batch_size
    sent = 0
    with Progress(disable=not sys.stderr.isatty(), transient=True) as progress:
        bar = progress.add_task("re-enriching", total=len(payloads))
        for start in range(0, len(payloads), size):
            chunk = [ArticlePayload.model_validate(p) for p in payloads[start : start + size]]
            dispatch.send(queues.TAG_ARTICLES, dump(ArticleBatch(articles=chunk)))
            sent += len(chunk)
            progress.advance(bar, len(chunk))
    verb = "re-enriched" if settings.embedded else "queued for re-enrichment"
    click.echo(f"{sent} articles {verb}")
