"""Broker-mode fixtures: Redis db of this test run, fresh PostgreSQL, a producer app on them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import services.ops.signals  # noqa: F401 - producers stamp publish times, as the CLI/API do
import shared.celery_app as celery_app_module
from shared.celery_app import create_app
from shared.settings import get_settings
from tests.ops.helpers import child_env


@dataclass
class Broker:
    redis_url: str
    db_url: str
    tmp: Path
    env: Any
    client: Any

    def child_env(self, **extra: str) -> dict[str, str]:
        return child_env(
            NEWSWIRE_BROKER_URL=self.redis_url,
            NEWSWIRE_DATABASE_URL=self.db_url,
            NEWSWIRE_BATCH_SIZE=get_settings().batch_size.__str__(),
            **extra,
        )


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis db number nobody else uses right now (overrides the pid-based one).

    Several engineers' test runs and workers share this Redis; a db number derived
    from the pid can collide with one of theirs. Pick one that is empty and has no
    client connected.
    """
    import random

    import redis

    from tests.conftest import REDIS_BASE

    admin = redis.Redis.from_url(f"{REDIS_BASE}/0")
    candidates = list(range(1, 16))
    random.shuffle(candidates)
    for number in candidates:
        busy = {int(c["db"]) for c in admin.client_list()}
        client = redis.Redis.from_url(f"{REDIS_BASE}/{number}")
        if number not in busy and client.dbsize() == 0:
            break
        client.close()
    else:
        pytest.fail("no idle Redis db number")
    admin.close()
    yield f"{REDIS_BASE}/{number}"
    client.flushdb()
    client.close()


@pytest.fixture
def broker(env: Any, redis_url: str, fresh_pg_url: str) -> Iterator[Broker]:
    """Broker mode in this process: ``dispatch.send`` publishes to the test Redis db."""
    import redis

    # Not pytest's tmp_path: concurrent pytest runs on this machine rotate that directory.
    tmp_path = Path(tempfile.mkdtemp(prefix="nw-ops-test-"))

    env.setenv("NEWSWIRE_BROKER_URL", redis_url)
    env.setenv("NEWSWIRE_DATABASE_URL", fresh_pg_url)
    env.setenv("NEWSWIRE_BATCH_SIZE", "2")
    producer = create_app(get_settings())
    env.setattr(celery_app_module, "app", producer)
    client = redis.Redis.from_url(redis_url)
    yield Broker(redis_url, fresh_pg_url, tmp_path, env, client)
    client.close()
    producer.close()
    if not os.environ.get("NW_OPS_KEEP_LOGS"):
        shutil.rmtree(tmp_path, ignore_errors=True)
