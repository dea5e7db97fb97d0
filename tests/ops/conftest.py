"""Broker-mode fixtures: Redis db of this test run, fresh PostgreSQL, a producer app on them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import services.ops.signals  # noqa: F401 - producers stamp publish times, as the CLI/API do
import shared.celery_app as celery_app_module
from shared.celery_app import create_app
from shared.settings import get_settings
from tests.ops.helpers import Broker

__all__ = ["Broker"]  # re-exported for callers of the old location


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
