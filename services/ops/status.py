"""``newswire status``: broker, database, workers, queues and dead letters at a glance
(:func:`collect_status`; printed by :func:`services.ops.render.print_status`)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select, text

from services.ops.queues import control_app, redact, redis_client, snapshot
from services.store.repository import search_backlog
from shared import queues
from shared.db import get_engine, session_scope
from shared.models import DeadLetter, IngestRecord
from shared.settings import get_settings


def collect_status(timeout: float = 1.0) -> dict[str, Any]:
    """Broker, database, workers, queues and dead letters at a glance."""
    settings = get_settings()
    out: dict[str, Any] = {
        "mode": "embedded" if settings.embedded else "broker",
        "env": settings.env,
    }
    if settings.broker_url:
        try:
            client = redis_client(settings.broker_url)
            started = time.perf_counter()
            client.ping()
            info = client.info()
            out["broker"] = {
                "ok": True,
                "url": redact(settings.broker_url),
                "ping_ms": round((time.perf_counter() - started) * 1000, 1),
                "redis_version": info.get("redis_version"),
                "used_memory": info.get("used_memory_human"),
                "aof_enabled": bool(info.get("aof_enabled")),
                "maxmemory_policy": info.get("maxmemory_policy"),
            }
        except Exception as exc:  # noqa: BLE001
            out["broker"] = {"ok": False, "url": redact(settings.broker_url), "error": str(exc)}
        workers: dict[str, Any] = {}
        try:
            if not out["broker"]["ok"]:
                raise RuntimeError("broker unreachable")
            inspect = control_app(settings.broker_url).control.inspect(timeout=timeout)
            for name, qs in (inspect.active_queues() or {}).items():
                workers[name] = {"queues": sorted(q["name"] for q in qs or [])}
        except Exception as exc:  # noqa: BLE001
            out["workers_error"] = str(exc)
        out["workers"] = workers
    else:
        out["broker"] = {"ok": None, "url": None, "note": "embedded: stages run in-process"}
        out["workers"] = {}
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
            try:
                revisions = sorted(
                    str(r)
                    for (r,) in session.execute(text("SELECT version_num FROM alembic_version"))
                )
            except Exception:  # noqa: BLE001 - not migrated yet
                revisions = []
        with session_scope() as session:
            records = dict(
                session.execute(
                    select(IngestRecord.status, func.count()).group_by(IngestRecord.status)
                ).all()
            )
            open_letters = session.scalar(select(func.count()).where(DeadLetter.status == "dead"))
        backlog: int | None = None
        try:
            with session_scope() as session:
                backlog = search_backlog(session)
        except Exception:  # noqa: BLE001, S110 - not migrated to 0004 yet: shown as None
            pass
        out["database"] = {
            "ok": True,
            "url": redact(str(get_engine().url.render_as_string(hide_password=True))),
            "revisions": revisions,
            "articles": records,
            "dead_letters_open": open_letters,
            "search_backlog": backlog,
        }
    except Exception as exc:  # noqa: BLE001
        out["database"] = {"ok": False, "error": str(exc)}
    snap = snapshot(with_consumers=False)
    out["queues"] = {
        q.name: {"waiting": q.waiting, "reserved": q.reserved, "oldest_age_s": q.oldest_age_s}
        for q in snap.queues
    }
    out["lag"] = {"p50_s": snap.lag_p50_s, "p95_s": snap.lag_p95_s}
    served = {q for w in out["workers"].values() for q in w["queues"]}
    out["queues_without_consumers"] = (
        [q for q in queues.QUEUES if q not in served] if settings.broker_url else []
    )
    out["ok"] = bool(out["database"].get("ok") and (out["broker"].get("ok") is not False))
    return out
