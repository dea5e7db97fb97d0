"""``newswire trace``: one article's journey (received, enriched, stored, re-sends, dead
letters) with timings, from the ingest record and the dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from shared.db import session_scope
from shared.models import DeadLetter, IngestRecord


def trace_article(article_id: str) -> dict[str, Any] | None:
    """An article's journey from the database: record, events with timings, dead letters."""
    with session_scope() as session:
        record = session.get(IngestRecord, article_id)
        if record is None and len(article_id) >= 6:
            found = list(
                session.scalars(
                    select(IngestRecord)
                    .where(IngestRecord.article_id.startswith(article_id))
                    .limit(2)
                )
            )
            if len(found) == 1:
                record = found[0]
        letters = list(
            session.scalars(
                select(DeadLetter)
                .where(DeadLetter.article_id == (record.article_id if record else article_id))
                .order_by(DeadLetter.id)
            )
        )
        copies = (
            list(
                session.scalars(
                    select(IngestRecord.article_id).where(
                        IngestRecord.duplicate_of == record.article_id
                    )
                )
            )
            if record
            else []
        )
        if record is None and not letters:
            return None

        def iso(v: datetime | None) -> str | None:
            if v is None:
                return None
            return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()

        events: list[dict[str, Any]] = []
        if record is not None:
            events.append(
                {
                    "at": iso(record.received_at),
                    "event": "received",
                    "detail": f"from {record.origin or record.source or '?'}",
                }
            )
            if record.status == "duplicate":
                events.append(
                    {
                        "at": iso(record.received_at),
                        "event": "duplicate",
                        "detail": f"of {record.duplicate_of} (similarity {record.similarity})",
                    }
                )
            if record.last_sent_at and (record.sends or 0) > 1:
                events.append(
                    {
                        "at": iso(record.last_sent_at),
                        "event": "resent",
                        "detail": f"sent {record.sends} times in all",
                    }
                )
            if record.enriched_at:
                events.append({"at": iso(record.enriched_at), "event": "enriched", "detail": ""})
            if record.stored_at:
                events.append({"at": iso(record.stored_at), "event": "stored", "detail": ""})
        for d in letters:
            events.append(
                {
                    "at": iso(d.created_at),
                    "event": "dead_lettered",
                    "detail": f"letter {d.id} [{d.status}] {d.task} {d.reason} "
                    f"after {d.attempts} attempt(s): {d.error.splitlines()[0][:160]}",
                }
            )
            if d.resolved_at:
                events.append(
                    {"at": iso(d.resolved_at), "event": d.status, "detail": f"letter {d.id}"}
                )
        # The enrich task records its end after handing the batch to the store, so a fast
        # store can finish first: order "enriched" before "stored" all the same.
        rank = {"enriched": 0, "stored": 1}
        stored_at = iso(record.stored_at) if record is not None else None

        def order(e: dict[str, Any]) -> tuple[str, int]:
            at = e["at"] or ""
            if e["event"] == "enriched" and stored_at and at > stored_at:
                at = stored_at
            return at, rank.get(e["event"], 0)

        events.sort(key=order)
        start = record.received_at if record is not None else None
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        for e in events:
            if start is not None and e["at"]:
                e["t_plus_s"] = round((datetime.fromisoformat(e["at"]) - start).total_seconds(), 3)
        return {
            "article_id": record.article_id if record else article_id,
            "trace_id": record.trace_id if record else (letters[0].trace_id if letters else None),
            "status": record.status if record else None,
            "attempts": record.attempts if record else None,
            "sends": record.sends if record else None,
            "last_error": record.last_error if record else None,
            "duplicates": copies,
            "events": events,
        }
