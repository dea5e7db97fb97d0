"""Operator tasks: the reconciler (``store.reconcile``, scheduled by beat)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from services.ops.reconcile import reconcile as reconcile_stale
from shared import queues
from shared.settings import Settings


@shared_task(name=queues.RECONCILE, ignore_result=True, acks_late=False)
def reconcile() -> dict[str, Any]:
    """Re-send articles received but not stored after NEWSWIRE_RECONCILE_AFTER seconds."""
    return reconcile_stale()


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The reconciler, on the store queue (assembled by the scheduler,
    services/entrypoints/beat.py)."""
    return {"reconcile": queues.periodic(queues.RECONCILE, settings.schedule.reconcile_interval)}
