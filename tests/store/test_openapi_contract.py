"""The OpenAPI document tells the truth: schemathesis against the app's own /openapi.json.

Every operation of the real ``create_app()`` (including routers other services add) is
called with generated requests, valid and invalid, with every schemathesis check on:
no server error, every status and body documented, parameters validated exactly as the
schema says (no more, no less), and the bearer tokens enforced where declared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.generation.modes import GenerationMode

from services.store.queries import parse_when
from testkit.store_corpus import build_corpus
from tests.store.helpers import write

WRITE = "contract-write-token"
READ = "contract-read-token"


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real app on a small stored corpus, in broker mode (a POST only queues)."""
    from shared import migrate
    from testkit.databases import create_pg_database, drop_pg_database

    mp = pytest.MonkeyPatch()
    url = create_pg_database("nw_contract")
    migrate.upgrade(url)
    write(url, [s.article() for s in build_corpus(n=20)])
    mp.setenv("NEWSWIRE_DATABASE_URL", url)
    mp.setenv("NEWSWIRE_API_TOKEN", WRITE)
    mp.setenv("NEWSWIRE_API_READ_TOKEN", READ)
    yield url
    mp.undo()
    drop_pg_database(url)


def _app() -> Any:
    from services.entrypoints.api import create_app

    return create_app()


# A request refused for its size (413, e.g. more than 500 articles in one POST) is refused
# too: the default list of "rejected" statuses lacks it.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
            }
        }
    }
)
# The document the app serves (built without starting it: no lifespan, no database).
APP = _app()
schema = schemathesis.openapi.from_dict(APP.openapi(), config=CONFIG)
schema.app = APP  # requests (and the checks' own probes) go to the app in this process


@pytest.fixture
def api(contract_app: str, env: pytest.MonkeyPatch, redis_url: str) -> Any:
    """The app reads its settings per request: these are the ones it answers with."""
    env.setenv("NEWSWIRE_DATABASE_URL", contract_app)
    env.setenv("NEWSWIRE_API_TOKEN", WRITE)
    env.setenv("NEWSWIRE_API_READ_TOKEN", READ)
    env.setenv("NEWSWIRE_BROKER_URL", redis_url)
    return APP


@schema.parametrize()
@settings(
    max_examples=40,
    derandomize=True,  # the same cases on every run (CI), not a new draw each time
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_contract(api: Any, case: Any) -> None:
    if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
        _only_what_a_schema_cannot_say(api, case)
    # The write token (it grants reads too), unless the case brings its own Authorization
    # header: then that one is what is being tried (a malformed one must get a 401).
    generated = {k.lower() for k in (case.headers or {})}
    headers = {} if "authorization" in generated or _drops_auth(case) else _auth()
    case.call_and_validate(headers=headers, checks=list(CHECKS.get_all()))


def _only_what_a_schema_cannot_say(api: Any, case: Any) -> None:
    """Two rules OpenAPI cannot express, applied to valid requests only (the API refuses
    the others with a 422 that says why, as tests/store/test_api_endpoints.py checks):

    * a ``cursor`` is opaque: a valid one is one the API returned (for the same order);
    * ``until`` must be later than ``since`` (a rule across two parameters)."""
    query = case.query or {}
    since, until = (parse_when(query.get(k) or None) for k in ("since", "until"))
    if since and until and since >= until:
        del query["until"]
    if "cursor" in query:
        # The first page of the same request, one item long: its next_cursor is valid here.
        params = {**{k: v for k, v in query.items() if k != "cursor"}, "limit": 1}
        page = TestClient(api).get(case.path, params=params, headers=_auth())
        cursor = page.json().get("next_cursor") if page.status_code == 200 else None
        if cursor:
            query["cursor"] = cursor
        else:
            del query["cursor"]


def _drops_auth(case: Any) -> bool:
    """A negative case whose mutation is "no Authorization header": it must be sent without."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    mutations = getattr(data, "mutations", None) or ()
    return any(str(getattr(m, "parameter", "")).lower() == "authorization" for m in mutations)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {WRITE}"}
