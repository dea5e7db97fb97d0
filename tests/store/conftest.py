"""Store fixtures: a corpus database per backend, and API clients bound to a database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from shared import db, migrate
from testkit.api import make_client
from testkit.databases import create_pg_database, drop_pg_database
from testkit.store_corpus import Spec, build_corpus
from tests.store.helpers import write


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


@pytest.fixture
def client_for() -> Callable[[str], TestClient]:
    return make_client
