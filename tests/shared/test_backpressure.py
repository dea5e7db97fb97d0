"""wait_for_capacity blocks over the high-water mark and resumes under the low one."""

from __future__ import annotations

from typing import Any

import redis

from shared.backpressure import wait_for_capacity, waiting


def test_blocks_until_under_low_water(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.lpush("enrich", *[f"m{i}" for i in range(10)])
    client.lpush("enrich\x06\x163", "high-priority")  # priority lists count too
    assert waiting(client, ["enrich", "store"]) == {"enrich": 11, "store": 0}
    sleeps: list[float] = []

    def drain(seconds: float) -> None:  # a worker consuming one message per poll
        sleeps.append(seconds)
        client.rpop("enrich")

    wait_for_capacity(["enrich", "store"], high=5, low=2, poll=0.01, client=client, sleep=drain)
    assert waiting(client, ["enrich"])["enrich"] == 2  # 1 + the priority one: <= low
    assert client.llen("enrich") == 1
    assert len(sleeps) == 9


def test_no_wait_between_the_marks_or_when_unreadable(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.lpush("store", *[f"m{i}" for i in range(4)])
    calls: list[Any] = []
    assert wait_for_capacity(high=5, low=2, client=client, sleep=calls.append) == 0.0
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert wait_for_capacity(high=0, low=0, client=dead, sleep=calls.append) == 0.0
    assert calls == []


def test_gives_up_after_max_wait(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.lpush("enrich", *[f"m{i}" for i in range(3)])
    ticks: list[float] = []
    waited = wait_for_capacity(
        high=1, low=0, poll=0.01, max_wait=0.05, client=client, sleep=ticks.append
    )
    assert waited >= 0.05 and ticks and client.llen("enrich") == 3
