"""Store test helpers (not fixtures): write articles as the store worker does, an API client
bound to one database."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.store.tasks import store_batch
from shared import db
from shared.schemas import EnrichedArticle


def write(url: str, articles: list[EnrichedArticle], batch: int = 25) -> None:
    """Store as the store worker does: upsert, then the search documents."""
    for start in range(0, len(articles), batch):
        store_batch(articles[start : start + batch], url)


def make_client(url: str) -> TestClient:
    from services.entrypoints.api import create_app
    from services.store.api.deps import get_session

    app = create_app()

    def session_for_url() -> Iterator[Session]:
        with db.get_sessionmaker(url)() as session:
            yield session

    app.dependency_overrides[get_session] = session_for_url
    return TestClient(app)
