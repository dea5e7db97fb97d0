"""Store fixtures: a corpus database per backend, and API clients bound to a database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from testkit.api import make_client
from testkit.databases import migrated_database
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
    with migrated_database(request.param, "nw_store", tmp_path_factory.mktemp("corpus")) as url:
        write(url, [s.article() for s in corpus])
        yield url


@pytest.fixture
def client_for() -> Callable[[str], TestClient]:
    return make_client
