"""The base of every pipeline task: retry policy for transient errors, dead letters for the rest."""

from __future__ import annotations

import traceback as tb
from typing import Any

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc
from celery import Task

from shared.logging import get_logger
from shared.schemas import SchemaError
from shared.settings import get_settings

log = get_logger(__name__)

# Infrastructure hiccups: retried with backoff, never dead-lettered early.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    ConnectionError,
    TimeoutError,
)


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
    from shared.db import session_scope
    from shared.models import DEAD, DeadLetter, IngestRecord

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
        )
    except Exception:  # noqa: BLE001 - last resort: the payload must reach the logs
        log.exception("dead_letter_write_failed", task=task, reason=reason, payload=payload)
        raise


class PipelineTask(Task):
    """Retries transient errors with capped exponential backoff; dead-letters the rest."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_jitter = True

    def __init__(self) -> None:
        settings = get_settings()
        self.retry_backoff_max = settings.retry_backoff_max
        self.max_retries = settings.max_retries

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        payload = args[0] if args else kwargs.get("message")
        reason = (
            "invalid_payload"
            if isinstance(exc, SchemaError)
            else ("retries_exhausted" if isinstance(exc, TRANSIENT_ERRORS) else "error")
        )
        write_dead_letter(
            task=self.name,
            queue=(self.request.delivery_info or {}).get("routing_key"),
            payload=payload if isinstance(payload, dict) else {"raw": repr(payload)[:10000]},
            error=exc,
            reason=reason,
            attempts=self.request.retries + 1,
            traceback=str(einfo) if einfo else None,
        )
