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

Test-only hook (documented, off unless set): ``NEWSWIRE_TEST_POISON_MARKER=<text>``
makes the task named by ``NEWSWIRE_TEST_POISON_TASK`` (default ``enrich.tag_articles``)
fail for a batch holding an article whose body contains ``<text>``;
``NEWSWIRE_TEST_POISON_MODE=exit`` kills the worker process instead of raising,
like a segfault would.
"""

from __future__ import annotations

import functools
import os
import traceback as tb
from collections.abc import Callable, Sequence
from typing import Any

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc
import structlog
from celery import Task
from celery.exceptions import Ignore, Reject, Retry
from celery.utils.time import get_exponential_backoff_interval

from shared import queues
from shared.logging import get_logger
from shared.schemas import SchemaError, utcnow
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
_CONTROL_FLOW = (Retry, Ignore, Reject)

# The list in a message that can be split: articles (hops 1 and 2) or raw items (hop 0).
SPLIT_KEYS = ("articles", "items")

POISON_MARKER_ENV = "NEWSWIRE_TEST_POISON_MARKER"
POISON_TASK_ENV = "NEWSWIRE_TEST_POISON_TASK"
POISON_MODE_ENV = "NEWSWIRE_TEST_POISON_MODE"


class PoisonTestError(RuntimeError):
    """Raised by the test-only poison hook (``NEWSWIRE_TEST_POISON_MARKER``)."""


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
            attempts=attempts,
        )
    except Exception:  # noqa: BLE001 - last resort: the payload must reach the logs
        log.exception("dead_letter_write_failed", task=task, reason=reason, payload=payload)
        raise


# ---------------------------------------------------------------- message helpers


def split_key(message: Any) -> str | None:
    """The list that can be split, when the message has a non-empty one."""
    if isinstance(message, dict):
        for key in SPLIT_KEYS:
            if isinstance(message.get(key), list) and message[key]:
                return key
    return None


def article_refs(message: Any) -> list[tuple[str, str | None]]:
    """(article_id, trace_id) of every well-formed article of a message."""
    if not isinstance(message, dict) or not isinstance(message.get("articles"), list):
        return []
    refs = []
    for item in message["articles"]:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            trace = item.get("trace_id")
            refs.append((item["id"][:64], trace if isinstance(trace, str) else None))
    return refs


def single(message: dict[str, Any], key: str, item: Any) -> dict[str, Any]:
    """The same message carrying one item: what a per-article dead letter keeps."""
    return {**message, key: [item]}


def halves(message: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = message[key]
    middle = (len(items) + 1) // 2
    return [{**message, key: items[:middle]}, {**message, key: items[middle:]}]


# ---------------------------------------------------------------- attempt counter


def _relaxed_commit(session: Any) -> None:
    """The counter is a heuristic: on PostgreSQL, do not wait for the WAL flush."""
    from sqlalchemy import text

    from shared.db import is_postgres

    if is_postgres(session):
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def begin_attempts(ids: Sequence[str]) -> dict[str, int]:
    """Count one more attempt for each known article; returns article_id -> attempts."""
    from sqlalchemy import update

    from shared.db import session_scope
    from shared.models import IngestRecord

    if not ids:
        return {}
    with session_scope() as session:
        _relaxed_commit(session)
        rows = session.execute(
            update(IngestRecord)
            .where(IngestRecord.article_id.in_(sorted(set(ids))))
            .values(attempts=IngestRecord.attempts + 1)
            .returning(IngestRecord.article_id, IngestRecord.attempts)
            .execution_options(synchronize_session=False)
        )
        return {aid: n for aid, n in rows}


def set_attempts(ids: Sequence[str], *, delta: int | None = None, **values: Any) -> None:
    """Reset (``delta=None``) or shift the attempt counter of articles; best effort."""
    from sqlalchemy import update

    from shared.db import session_scope
    from shared.models import IngestRecord

    if not ids:
        return
    attempts: Any = 0 if delta is None else IngestRecord.attempts + delta
    try:
        with session_scope() as session:
            _relaxed_commit(session)
            session.execute(
                update(IngestRecord)
                .where(IngestRecord.article_id.in_(sorted(set(ids))))
                .values(attempts=attempts, **values)
                .execution_options(synchronize_session=False)
            )
    except Exception as exc:  # noqa: BLE001 - the counter must never fail the work itself
        log.warning("attempt_counter_update_failed", error=str(exc), articles=len(ids))


REDELIVERY_KEY = "newswire:deliveries:"


def count_redelivery(task_id: str | None) -> int:
    """Deliveries of one message so far (first delivery = 1), counted in the broker's Redis."""
    url = get_settings().broker_url
    if not task_id or not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return 1
    import redis as redis_lib

    try:
        client = redis_lib.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        with client.pipeline() as pipe:
            pipe.incr(REDELIVERY_KEY + task_id)
            pipe.expire(REDELIVERY_KEY + task_id, 7 * 24 * 3600)
            count = int(pipe.execute()[0])
        client.close()
    except redis_lib.RedisError as exc:
        log.warning("redelivery_count_failed", error=str(exc))
        return 1
    return 1 + count


def _check_test_poison(task_name: str, message: Any) -> None:
    marker = os.environ.get(POISON_MARKER_ENV)
    if not marker or os.environ.get(POISON_TASK_ENV, queues.TAG_ARTICLES) != task_name:
        return
    key = split_key(message)
    items = message[key] if key else []
    for item in items:
        body = item.get("body") if isinstance(item, dict) else None
        if isinstance(body, str) and marker in body:
            if os.environ.get(POISON_MODE_ENV) == "exit":
                log.error("test_poison_exit", task=task_name, article_id=item.get("id"))
                os._exit(137)
            raise PoisonTestError(f"test poison marker {marker!r} in article {item.get('id')}")


# ---------------------------------------------------------------- the task base


class PipelineTask(Task):
    """Retries transient errors with backoff; isolates poison articles; dead-letters the rest."""

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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # ``app.task`` builds a subclass whose ``run`` is the decorated function:
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
        from shared import dispatch

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
            _check_test_poison(self.name, message)
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
        if ids and self.name != queues.STORE_ARTICLES:
            # The stage is done: the next one counts from zero. (After the store the
            # record says "stored"; a later replay resets the counter itself.)
            extra: dict[str, Any] = {}
            if self.name == queues.TAG_ARTICLES:
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
