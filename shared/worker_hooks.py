"""Worker-side hooks (signal handlers) connected by the worker entry point (:func:`connect`).

Messages the worker refuses before any task runs
------------------------------------------------
Celery rejects (and drops) a message whose content type is not accepted
(``accept_content=["json"]``: a pickle body is never deserialized), a message it
cannot read as a task, and a message naming a task it does not know. Celery only
logs these; Redis has no dead-letter exchange. The handlers below write each such
message into the dead letters (``DeadLetter``) with a reason an operator can read:

* ``content_refused``: content type not accepted (e.g. ``application/x-python-serialize``);
* ``invalid_message``: not a valid task message;
* ``unknown_task``: names a task this worker does not have;
* ``unknown_message``: not a Celery task message at all.

The payload kept is a description of the message (content type, encoding, task
name, id, queue, the first bytes of the body base64-encoded), never its decoded
body: the body is not trusted, and decoding it is exactly what was refused.
Writing the report must never stop the consumer: any error is logged and dropped.

Fault injection (tests only, off unless ``NEWSWIRE_FAULT_INJECTION=1``)
-------------------------------------------------------------------------
``NEWSWIRE_FAULT_SLOW_MARKER=<text>`` with ``NEWSWIRE_FAULT_SLOW_SECONDS=<s>``
(default 5) makes a task sleep before running when its message carries an article
(or raw item) whose body contains ``<text>``: a deterministic "mid-task" window for
shutdown tests. The poison hooks (always fails / always kills its process) are in
:mod:`shared.tasks` (``NEWSWIRE_TEST_POISON_MARKER``, ``NEWSWIRE_TEST_POISON_MODE``).
"""

from __future__ import annotations

import base64
import time
from typing import Any

from celery import Celery, bootsteps, signals
from celery.exceptions import InvalidTaskError
from kombu.exceptions import ContentDisallowed, DecodeError

from shared import heartbeat
from shared.deadletters import write_dead_letter
from shared.logging import get_logger
from shared.settings import fault_hooks

log = get_logger(__name__)

BODY_SAMPLE_BYTES = 2048
FAULT_INJECTION_ENV = "NEWSWIRE_FAULT_INJECTION"
SLOW_MARKER_ENV = "NEWSWIRE_FAULT_SLOW_MARKER"
SLOW_SECONDS_ENV = "NEWSWIRE_FAULT_SLOW_SECONDS"


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown_message"
    if isinstance(exc, ContentDisallowed):
        return "content_refused"
    if isinstance(exc, DecodeError):
        return "undecodable"
    if isinstance(exc, InvalidTaskError):
        return "invalid_message"
    return "rejected"


def describe_message(message: Any) -> dict[str, Any]:
    """What we can say about a message without decoding its body."""
    headers = getattr(message, "headers", None) or {}
    info = getattr(message, "delivery_info", None) or {}
    body = getattr(message, "body", b"")
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    elif not isinstance(body, bytes | bytearray | memoryview):
        body = repr(body).encode("utf-8", "replace")
    raw = bytes(body)
    return {
        "content_type": str(getattr(message, "content_type", None)),
        "content_encoding": str(getattr(message, "content_encoding", None)),
        "task": str(headers.get("task")) if isinstance(headers, dict) else None,
        "task_id": str(headers.get("id")) if isinstance(headers, dict) else None,
        "queue": str(info.get("routing_key")) if isinstance(info, dict) else None,
        "body_bytes": len(raw),
        "body_base64": base64.b64encode(raw[:BODY_SAMPLE_BYTES]).decode("ascii"),
    }


def report_refused(message: Any, exc: BaseException | None, reason: str | None = None) -> None:
    """Dead-letter a message the worker dropped without running it; never raises."""
    reason = reason or _reason(exc)
    try:
        described = describe_message(message)
    except Exception as err:  # noqa: BLE001 - a report must not break the consumer
        described = {"describe_error": repr(err)[:500]}
    error = f"{type(exc).__name__}: {exc}" if exc is not None else "not a task message"
    log.error(
        "message_refused",
        reason=reason,
        error=error[:1000],
        task=described.get("task"),
        task_id=described.get("task_id"),
        content_type=described.get("content_type"),
        queue=described.get("queue"),
    )
    try:
        write_dead_letter(
            task=str(described.get("task") or "?")[:200],
            queue=(str(described.get("queue") or "") or None),
            payload={"refused_message": described},
            error=error,
            reason=reason,
            attempts=1,
            traceback="",
        )
    except Exception as err:  # noqa: BLE001 - the consumer must go on
        log.error("message_refused_report_failed", reason=reason, error=repr(err)[:500])


def _on_task_rejected(sender: Any = None, message: Any = None, exc: Any = None, **_: Any) -> None:
    report_refused(message, exc)


def _on_task_unknown(
    sender: Any = None, message: Any = None, exc: Any = None, name: Any = None, **_: Any
) -> None:
    report_refused(message, exc, reason="unknown_task")


# ---------------------------------------------------------------- fault injection (tests)


def _bodies(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return []
    out = []
    for key in ("articles", "items"):
        for item in message.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("body"), str):
                out.append(item["body"])
    return out


def _fault_slow(args: Any = None, kwargs: Any = None, task: Any = None, **_: Any) -> None:
    hooks = fault_hooks()
    if not hooks.fault_injection:
        return
    marker = hooks.fault_slow_marker
    if not marker:
        return
    message = (args or [None])[0] if args else (kwargs or {}).get("message")
    if any(marker in body for body in _bodies(message)):
        seconds = hooks.fault_slow_seconds
        log.warning("fault_slow_task", task=getattr(task, "name", None), seconds=seconds)
        time.sleep(seconds)


class HeartbeatStep(bootsteps.StartStopStep):
    """Touches the worker's heartbeat file (:mod:`shared.heartbeat`) every few seconds from the
    consumer's event loop, while the consumer is connected to the broker.

    A consumer step starts after the connection and the task consumer are up, and is stopped
    when the consumer loses the broker (the blueprint restarts): the file is removed then, so
    the container's health check fails until the worker is consuming again. A hung event loop
    stops touching it. The compose health check only reads the file's age.
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        self.path = heartbeat.heartbeat_path(parent.app.conf.get("newswire_heartbeat", "worker"))
        self.tref: Any = None
        super().__init__(parent, **kwargs)

    def _beat(self) -> None:
        try:
            heartbeat.touch(self.path)
        except OSError as exc:  # a full or read-only /tmp must not stop the consumer
            log.warning("heartbeat_failed", path=str(self.path), error=str(exc))

    def start(self, parent: Any) -> None:
        self._beat()
        self.tref = parent.timer.call_repeatedly(heartbeat.TOUCH_EVERY_S, self._beat)

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        heartbeat.clear(self.path)

    shutdown = stop


def add_heartbeat(app: Celery, name: str) -> None:
    """Make this worker keep ``name``'s heartbeat file fresh (called by ``newswire worker``)."""
    app.conf.newswire_heartbeat = name
    app.steps["consumer"].add(HeartbeatStep)


def connect() -> None:
    """Connect the worker-side hooks: called by ``newswire worker`` before the worker starts
    (producers such as the CLI and the API do not need them)."""
    signals.task_rejected.connect(_on_task_rejected, weak=False)
    signals.task_unknown.connect(_on_task_unknown, weak=False)
    signals.task_prerun.connect(_fault_slow, weak=False)
