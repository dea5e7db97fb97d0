"""Dead letters: list, show, replay (re-send the stored payload), discard.

A letter is ``dead`` until an operator replays it (``replayed``) or discards it
(``discarded``). Replaying an article's letter first puts its ingest record back
to ``received`` with a fresh attempt counter, then re-sends the one-article
payload to the letter's task (in-process when embedded); if the send fails the
letter stays ``dead`` and the reconciler will still re-send the article. The
store upsert is idempotent, so a replay that races a late original stores once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from shared import dispatch
from shared.db import session_scope
from shared.logging import get_logger
from shared.models import DEAD, RECEIVED, DeadLetter, IngestRecord
from shared.schemas import utcnow

log = get_logger(__name__)

OPEN = "dead"
REPLAYED = "replayed"
DISCARDED = "discarded"


@dataclass
class Selection:
    ids: Sequence[int] = ()
    all: bool = False
    reason: str | None = None
    task: str | None = None

    def empty(self) -> bool:
        return not (self.ids or self.all or self.reason or self.task)


def as_dict(letter: DeadLetter, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": letter.id,
        "status": letter.status,
        "task": letter.task,
        "queue": letter.queue,
        "reason": letter.reason,
        "article_id": letter.article_id,
        "trace_id": letter.trace_id,
        "attempts": letter.attempts,
        "error": letter.error if full else (letter.error or "").splitlines()[0][:200],
        "created_at": letter.created_at.isoformat() if letter.created_at else None,
        "resolved_at": letter.resolved_at.isoformat() if letter.resolved_at else None,
    }
    if full:
        out["traceback"] = letter.traceback
        out["payload"] = letter.payload
    return out


def list_letters(
    *,
    status: str | None = OPEN,
    reason: str | None = None,
    task: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    with session_scope() as session:
        stmt = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(DeadLetter.status == status)
        if reason:
            stmt = stmt.where(DeadLetter.reason == reason)
        if task:
            stmt = stmt.where(DeadLetter.task == task)
        return [as_dict(d) for d in session.scalars(stmt)]


def counts() -> dict[tuple[str, str], int]:
    """(status, reason) -> letters."""
    with session_scope() as session:
        rows = session.execute(
            select(DeadLetter.status, DeadLetter.reason, func.count()).group_by(
                DeadLetter.status, DeadLetter.reason
            )
        ).all()
    return {(s, r): n for s, r, n in rows}


def get_letter(letter_id: int) -> dict[str, Any] | None:
    with session_scope() as session:
        letter = session.get(DeadLetter, letter_id)
        return as_dict(letter, full=True) if letter else None


def _select_ids(sel: Selection) -> list[int]:
    if sel.empty():
        raise ValueError("say which letters: IDs, --all, --reason or --task")
    with session_scope() as session:
        stmt = select(DeadLetter.id).where(DeadLetter.status == OPEN).order_by(DeadLetter.id)
        if sel.ids:
            stmt = stmt.where(DeadLetter.id.in_(list(sel.ids)))
        if sel.reason:
            stmt = stmt.where(DeadLetter.reason == sel.reason)
        if sel.task:
            stmt = stmt.where(DeadLetter.task == sel.task)
        return list(session.scalars(stmt))


def replay(sel: Selection) -> dict[str, list[Any]]:
    """Re-send the selected open letters; returns replayed ids and failures."""
    replayed: list[int] = []
    failed: list[dict[str, Any]] = []
    for letter_id in _select_ids(sel):
        with session_scope() as session:
            letter = session.get(DeadLetter, letter_id, with_for_update=True)
            if letter is None or letter.status != OPEN or not letter.payload:
                if letter is not None and not letter.payload:
                    failed.append({"id": letter_id, "error": "no payload to replay"})
                continue
            task, payload, article_id = letter.task, dict(letter.payload), letter.article_id
            if article_id:
                record = session.get(IngestRecord, article_id)
                if record is not None and record.status == DEAD:
                    record.status = RECEIVED
                if record is not None:
                    record.attempts = 0
                    record.last_sent_at = utcnow()
                    record.sends = (record.sends or 0) + 1
            # Marked before sending: in embedded mode the send runs the task here and a
            # new failure writes a new letter. If the send itself fails, undone below.
            letter.status = REPLAYED
            letter.resolved_at = utcnow()
        try:
            dispatch.send(task, payload)
        except Exception as exc:  # noqa: BLE001 - report it and keep the letter open
            with session_scope() as session:
                letter = session.get(DeadLetter, letter_id)
                if letter is not None:
                    letter.status = OPEN
                    letter.resolved_at = None
            failed.append({"id": letter_id, "error": f"{type(exc).__name__}: {exc}"})
            log.error("dead_letter_replay_failed", letter_id=letter_id, error=str(exc))
            continue
        replayed.append(letter_id)
        log.info("dead_letter_replayed", letter_id=letter_id, task=task, article_id=article_id)
    return {"replayed": replayed, "failed": failed}


def discard(sel: Selection) -> list[int]:
    """Close the selected open letters without re-sending them."""
    ids = _select_ids(sel)
    if ids:
        with session_scope() as session:
            for letter in session.scalars(select(DeadLetter).where(DeadLetter.id.in_(ids))):
                letter.status = DISCARDED
                letter.resolved_at = utcnow()
        log.info("dead_letters_discarded", letters=len(ids))
    return ids
