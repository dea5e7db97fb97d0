"""Every service's Celery tasks, registered by importing their modules.

The task modules define their tasks with ``shared_task``: importing one adds its tasks to
this process's app (:func:`shared.celery_app.get_app`), whenever that app is built. The
worker and the API import this module; the CLI registers it as a lazy loader
(:func:`shared.celery_app.register_tasks`), imported only when a command runs a task in
process (embedded mode). The scheduler needs no task, only the names in its schedule
(:mod:`services.entrypoints.beat`).
"""

from __future__ import annotations

from services.enrich import tasks as enrich_tasks
from services.ingest import tasks as ingest_tasks
from services.ops import tasks as ops_tasks
from services.store import tasks as store_tasks

TASK_MODULES = (ingest_tasks, enrich_tasks, store_tasks, ops_tasks)
