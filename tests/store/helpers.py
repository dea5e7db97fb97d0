"""Store test helpers (not fixtures): write articles as the store worker does (an API client
bound to one database: ``testkit.api.make_client``)."""

from __future__ import annotations

from services.store.tasks import store_batch
from shared.schemas import EnrichedArticle


def write(url: str, articles: list[EnrichedArticle], batch: int = 25) -> None:
    """Store as the store worker does: upsert, then the search documents."""
    for start in range(0, len(articles), batch):
        store_batch(articles[start : start + batch], url)
