"""The dead-letter writer: a failed message (task, payload, error, attempts) into the database.

Redis has no dead-letter exchange, so the task base (:mod:`shared.tasks`) and the worker's
refused-message hooks (:mod:`shared.worker_hooks`) write failures here; operators list,
replay and discard them with ``newswire dead`` (:mod:`services.ops.deadletters`).
"""

from __future__ import annotations

import traceback as tb
from typing import Any

from shared.db import session_scope
from shared.logging import get_logger
from shared.models import DEAD, DeadLetter, IngestRecord

log = get_logger(__name__)


def write_dead_letter(
    *,
    task: str,
    queue: str | None,
    payload: dict[str, Any] | None,
    error: BaseException | str,
    reason: str,
    attempts: int = 0,
    article_id: str | None = None,
    trace_id: str | None = None,
    traceback: str | None = None,
) -> None:
    """Persist a failed message; if even that fails, log it loudly with the payload."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    if traceback is None and isinstance(error, BaseException):
        traceback = "".join(tb.format_exception(error))
    try:
        with session_scope() as session:
            session.add(
                DeadLetter(
                    task=task,
                    queue=queue,
                    article_id=article_id,
                    trace_id=trace_id,
                    reason=reason,
                    error=message[:10_000],
                    traceback=(traceback or "")[-20_000:] or None,
                    payload=payload,
                    attempts=attempts,
                )
            )
            if article_id:
                record = session.get(IngestRecord, article_id)
                if record is not None and record.status != "stored":
                    record.status = DEAD
                    record.last_error = message[:2000]
        log.error(
            "dead_lettered",
            task=task,
            reason=reason,
            error=message,
            article_id=article_id,
            trace_id=trace_id,
            attempts=attempts,
        )
    except Exception:  # noqa: BLE001 - last resort: the payload must reach the logs
        log.exception("dead_letter_write_failed", task=task, reason=reason, payload=payload)
        raise
