"""Every hop goes through :func:`send`: in-process when embedded, a queued task otherwise.

``app.send_task`` ignores ``task_always_eager``, so the choice is made here once.
Services never import each other: a task is found by its name in the Celery
registry, which holds every service's tasks once the entry point has registered them
(:func:`shared.celery_app.register_tasks`).
"""

from __future__ import annotations

from typing import Any

from shared import celery_app
from shared.settings import get_settings


def send(task_name: str, payload: dict[str, Any], *, countdown: float | None = None) -> None:
    if get_settings().embedded:
        celery_app.get_task(task_name).run(payload)
        return
    celery_app.get_app().send_task(task_name, args=[payload], countdown=countdown)
