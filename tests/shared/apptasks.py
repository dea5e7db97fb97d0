"""A task module for tests/shared/test_celery_app.py: imported only by that test's loader."""

from __future__ import annotations

from typing import Any

from celery import shared_task

CALLS: list[dict[str, Any]] = []


@shared_task(name="apptest.probe")
def probe(message: dict[str, Any]) -> None:
    CALLS.append(message)
