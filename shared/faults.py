"""Test-only fault hook of the task base (documented, off unless set).

``NEWSWIRE_TEST_POISON_MARKER=<text>`` makes the task named by ``NEWSWIRE_TEST_POISON_TASK``
(default ``enrich.tag_articles``) fail for a batch holding an article whose body contains
``<text>``; ``NEWSWIRE_TEST_POISON_MODE=exit`` kills the worker process instead of raising,
like a segfault would. The worker-side "slow task" hook is in :mod:`shared.worker_hooks`.
"""

from __future__ import annotations

import os
from typing import Any

from shared.logging import get_logger
from shared.messages import split_key
from shared.settings import fault_hooks

log = get_logger(__name__)

POISON_MARKER_ENV = "NEWSWIRE_TEST_POISON_MARKER"
POISON_TASK_ENV = "NEWSWIRE_TEST_POISON_TASK"
POISON_MODE_ENV = "NEWSWIRE_TEST_POISON_MODE"


class PoisonTestError(RuntimeError):
    """Raised by the test-only poison hook (``NEWSWIRE_TEST_POISON_MARKER``)."""


def check_test_poison(task_name: str, message: Any) -> None:
    hooks = fault_hooks()
    marker = hooks.test_poison_marker
    if not marker or hooks.test_poison_task != task_name:
        return
    key = split_key(message)
    items = message[key] if key else []
    for item in items:
        body = item.get("body") if isinstance(item, dict) else None
        if isinstance(body, str) and marker in body:
            if hooks.test_poison_mode == "exit":
                log.error("test_poison_exit", task=task_name, article_id=item.get("id"))
                os._exit(137)
            raise PoisonTestError(f"test poison marker {marker!r} in article {item.get('id')}")
