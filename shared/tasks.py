"""The base of every pipeline task: retries, per-article attempts, poison isolation, dead letters.

Every task built on :class:`PipelineTask` has its ``run`` wrapped (see
``PipelineTask.__init_subclass__``) so that the same rules hold in a worker and
in embedded mode, where :func:`shared.dispatch.send` calls ``task.run`` directly:

* Attempts are counted per article in the database (``IngestRecord.attempts``) at
  the START of processing, so a message that kills its worker (SIGKILL, segfault,
  redelivered thanks to ``acks_late`` + ``reject_on_worker_lost``) is counted too.
  An article above ``NEWSWIRE_MAX_ATTEMPTS`` is dead-lettered alone; the rest of
  its batch goes on. A stage that succeeds resets the counter.
* A multi-article batch that fails with a non-transient error, or that comes back
  redelivered (its worker died), is split in halves and re-sent, so one poison
  article never takes its batch-mates down. A single article that keeps failing
  is retried with backoff until it has run NEWSWIRE_MAX_ATTEMPTS times, then
  dead-lettered with its payload, error and traceback; an invalid payload
  (``SchemaError``) is dead-lettered at once.
* Transient errors (database, network) are retried with capped exponential
  backoff and do not count as attempts; when the retries run out every article of
  the message gets a dead letter of its own (replayable one by one).
* Embedded mode has no retries: any failure ends in dead letters at once, never in
  an exception that would stop the command for the other inputs.

What a stage does when it succeeds is an option of its task, not a rule on its name:
``reset_attempts`` (default True: the next stage counts from zero; the store leaves the
counter, its record says "stored") and ``stamp_enriched_at`` (the enrich task records when
its articles were tagged).

The pieces live next door: :mod:`shared.deadletters` (writer), :mod:`shared.messages`
(split, halves), :mod:`shared.attempts` (counters), :mod:`shared.faults` (test hook).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc
import structlog
from celery import Task
from celery.exceptions import Ignore, Reject, Retry
from celery.utils.time import get_exponential_backoff_interval

from shared import dispatch
from shared.attempts import begin_attempts, count_redelivery, set_attempts
from shared.deadletters import write_dead_letter
from shared.faults import PoisonTestError, check_test_poison
from shared.logging import get_logger
from shared.messages import SPLIT_KEYS, article_refs, halves, single, split_key
from shared.schemas import SchemaError, utcnow
from shared.settings import get_settings

__all__ = [
    "SPLIT_KEYS",
    "TRANSIENT_ERRORS",
    "PipelineTask",
    "PoisonTestError",
    "article_refs",
    "halves",
    "single",
    "split_key",
    "write_dead_letter",
]

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
_CONTROL_FLOW = (Retry, Ignore, Reject)


# ---------------------------------------------------------------- the task base


class PipelineTask(Task):
    """Retries transient errors with backoff; isolates poison articles; dead-letters the rest."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_jitter = True
    # Options a stage sets on its task (``@shared_task(base=PipelineTask, reset_attempts=...)``).
    reset_attempts = True  # on success, the next stage counts attempts from zero
    stamp_enriched_at = False  # on success, record enriched_at on the articles' records

    def __init__(self) -> None:
        settings = get_settings()
        self.retry_backoff_max = settings.retry_backoff_max
        self.max_retries = settings.max_retries

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # ``shared_task`` builds (per app) a subclass whose ``run`` is the decorated function:
        # wrap it here so workers, ``apply`` and embedded ``task.run`` all go through it.
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get("run")
        if run is None or getattr(run, "_pipeline_guarded", False):
            return
        if isinstance(run, staticmethod):
            inner = run.__func__

            def unbound(self: PipelineTask, *args: Any, **kw: Any) -> Any:
                return inner(*args, **kw)

            fun: Callable[..., Any] = unbound
        else:
            fun = run

        @functools.wraps(fun)
        def guarded(self: PipelineTask, *args: Any, **kw: Any) -> Any:
            return self._guarded_run(fun, *args, **kw)

        guarded._pipeline_guarded = True  # type: ignore[attr-defined]
        cls.run = guarded  # type: ignore[method-assign]

    # -- helpers --------------------------------------------------------------

    @property
    def _embedded(self) -> bool:
        return bool(getattr(self.request, "called_directly", True)) or get_settings().embedded

    def _queue(self) -> str | None:
        info = getattr(self.request, "delivery_info", None) or {}
        return info.get("routing_key") or self.name.split(".", 1)[0]

    def _redelivered(self) -> bool:
        info = getattr(self.request, "delivery_info", None) or {}
        return bool(info.get("redelivered"))

    def _send(self, message: dict[str, Any]) -> None:
        dispatch.send(self.name, message)

    def _dead_letter_items(
        self,
        message: Any,
        exc: BaseException | str,
        reason: str,
        attempts: dict[str, int] | None = None,
        traceback: str | None = None,
        deliveries: int | None = None,
    ) -> None:
        """One dead letter per article (replayable alone), or one for the whole message."""
        tries = deliveries or self.request.retries + 1
        refs = dict(article_refs(message))
        key = split_key(message)
        if key == "articles" and refs:
            for item in message[key]:
                aid = item.get("id") if isinstance(item, dict) else None
                write_dead_letter(
                    task=self.name,
                    queue=self._queue(),
                    payload=single(message, key, item),
                    error=exc,
                    reason=reason,
                    attempts=(attempts or {}).get(aid or "", tries),
                    article_id=aid if isinstance(aid, str) else None,
                    trace_id=refs.get(aid) if isinstance(aid, str) else None,
                    traceback=traceback,
                )
            return
        write_dead_letter(
            task=self.name,
            queue=self._queue(),
            payload=message if isinstance(message, dict) else {"raw": repr(message)[:10_000]},
            error=exc,
            reason=reason,
            attempts=tries,
            traceback=traceback,
        )

    # -- the guarded run ---------------------------------------------------------

    def _guarded_run(self, fun: Callable[..., Any], message: Any = None, *a: Any, **kw: Any) -> Any:
        settings = get_settings()
        refs = article_refs(message)
        ids = [aid for aid, _ in refs]
        attempts = begin_attempts(ids)  # a transient failure here is retried like any other
        key = split_key(message)

        if key and len(message[key]) > 1 and self._redelivered() and not self._embedded:
            # Its worker died while holding it: do not let the whole batch die again.
            set_attempts(ids)
            parts = halves(message, key)
            for part in parts:
                self._send(part)
            log.warning("batch_split", task=self.name, reason="redelivered", size=len(message[key]))
            return None

        if not attempts and self._redelivered() and not self._embedded:
            # Nothing in the database to count on (raw items, unknown articles): count
            # the deliveries of this very message in Redis, so it cannot loop forever.
            deliveries = count_redelivery(self.request.id)
            if deliveries > settings.max_attempts:
                self._dead_letter_items(
                    message,
                    f"message delivered {deliveries} times without finishing "
                    f"(NEWSWIRE_MAX_ATTEMPTS={settings.max_attempts}); "
                    "its worker probably died on it",
                    "max_attempts",
                    deliveries=deliveries,
                )
                return None

        if attempts and key == "articles":
            over = {aid for aid, n in attempts.items() if n > settings.max_attempts}
            if over:
                kept = []
                for item in message[key]:
                    aid = item.get("id") if isinstance(item, dict) else None
                    if aid in over:
                        with structlog.contextvars.bound_contextvars(article_id=aid):
                            write_dead_letter(
                                task=self.name,
                                queue=self._queue(),
                                payload=single(message, key, item),
                                error=(
                                    f"article started {attempts[aid]} times without finishing "
                                    f"(NEWSWIRE_MAX_ATTEMPTS={settings.max_attempts}); "
                                    "its worker probably died on it"
                                ),
                                reason="max_attempts",
                                attempts=attempts[aid],
                                article_id=aid,
                                trace_id=item.get("trace_id"),
                            )
                    else:
                        kept.append(item)
                if not kept:
                    return None
                message = {**message, key: kept}
                ids = [aid for aid in ids if aid not in over]
                self.request.pipeline_message = message

        try:
            check_test_poison(self.name, message)
            result = fun(self, message, *a, **kw)
        except _CONTROL_FLOW:
            raise
        except TRANSIENT_ERRORS as exc:
            set_attempts(ids, delta=-1)  # infrastructure trouble is not the article's fault
            if not self._embedded:
                raise  # autoretry backs off; on_failure dead-letters when retries run out
            self._dead_letter_items(message, exc, "transient_error", attempts)
            return None
        except Exception as exc:  # noqa: BLE001 - every other error is isolated below
            if key and len(message[key]) > 1:
                set_attempts(ids, delta=-1)
                for part in halves(message, key):
                    self._send(part)
                log.warning(
                    "batch_split",
                    task=self.name,
                    reason="error",
                    size=len(message[key]),
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )
                return None
            reason = "invalid_payload" if isinstance(exc, SchemaError) else "error"
            tried = max(attempts.values()) if attempts else self.request.retries + 1
            if reason == "error" and not self._embedded and tried < settings.max_attempts:
                # Maybe a glitch: try again later, up to NEWSWIRE_MAX_ATTEMPTS runs.
                countdown = get_exponential_backoff_interval(
                    factor=int(self.retry_backoff),
                    retries=tried - 1,
                    maximum=self.retry_backoff_max,
                    full_jitter=True,
                )
                log.warning(
                    "article_failed_will_retry",
                    task=self.name,
                    attempts=tried,
                    max_attempts=settings.max_attempts,
                    countdown_s=countdown,
                    article_id=ids[0] if ids else None,
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )
                raise self.retry(args=[message], kwargs=kw, exc=exc, countdown=countdown) from exc
            self._dead_letter_items(message, exc, reason, attempts)
            if self._embedded:
                return None
            self.request.pipeline_dead_lettered = True
            raise
        if ids and self.reset_attempts:
            # The stage is done: the next one counts from zero. (The store task says
            # reset_attempts=False: its record says "stored"; a replay resets it itself.)
            extra: dict[str, Any] = {}
            if self.stamp_enriched_at:
                extra["enriched_at"] = utcnow()
            set_attempts(ids, **extra)
        return result

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if getattr(self.request, "pipeline_dead_lettered", False):
            return
        message = getattr(self.request, "pipeline_message", None)
        if message is None:
            message = args[0] if args else kwargs.get("message")
        reason = (
            "invalid_payload"
            if isinstance(exc, SchemaError)
            else ("retries_exhausted" if isinstance(exc, TRANSIENT_ERRORS) else "error")
        )
        self._dead_letter_items(message, exc, reason, traceback=str(einfo) if einfo else None)
