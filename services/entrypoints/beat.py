"""The scheduler's Celery app: every service's periodic tasks, assembled here.

Each service declares its entries next to its tasks (``beat_schedule(settings)`` in
``services/<name>/tasks.py``); this module puts them together and builds the app beat runs
(``newswire scheduler``; ``celery -A services.entrypoints.beat:app beat`` in tests). Imported
only by the scheduler: the task modules are not needed to start any other command.
"""

from __future__ import annotations

from typing import Any

from services.ingest import tasks as ingest_tasks
from services.ops import tasks as ops_tasks
from services.store import tasks as store_tasks
from shared.celery_app import create_app
from shared.settings import Settings, get_settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every periodic task: feed polling (ingest), the search and story sweeps (store), the
    reconciler (ops)."""
    return {
        **ingest_tasks.beat_schedule(settings),
        **store_tasks.beat_schedule(settings),
        **ops_tasks.beat_schedule(settings),
    }


app = create_app(get_settings(), beat_schedule=beat_schedule(get_settings()))
