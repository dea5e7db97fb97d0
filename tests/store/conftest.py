"""Store fixtures: a corpus database per backend, and API clients bound to a database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.store import migrate
from services.store.tasks import store_batch
from shared import db
from shared.schemas import EnrichedArticle
from tests.conftest import create_pg_database, drop_pg_database
from tests.store.corpus import Spec, build_corpus


def write(url: str, articles: list[EnrichedArticle], batch: int = 25) -> None:
    """Store as the store worker does: upsert, then the search documents."""
    for start in range(0, len(articles), batch):
        store_batch(articles[start : start + batch], url)


@pytest.fixture(scope="module")
def corpus() -> list[Spec]:
    return build_corpus()


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def corpus_url(
    request: pytest.FixtureRequest, corpus: list[Spec], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The fixture corpus stored in a migrated database of each backend."""
    if request.param == "postgresql":
        url = create_pg_database("nw_store")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'corpus.db'}"
    migrate.upgrade(url)
    write(url, [s.article() for s in corpus])
    yield url
    if request.param == "postgresql":
        drop_pg_database(url)
    else:
        db.dispose_engine()


def make_client(url: str) -> TestClient:
    from services.store.api.app import create_app, get_session

    app = create_app()

    def session_for_url() -> Iterator[Session]:
        with db.get_sessionmaker(url)() as session:
            yield session

    app.dependency_overrides[get_session] = session_for_url
    return TestClient(app)


@pytest.fixture
def client_for() -> Callable[[str], TestClient]:
    return make_client


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    return url
