"""The scheduler (``celery beat``) with a liveness heartbeat.

``celery -A services.entrypoints.beat:app beat -S shared.beat:HeartbeatScheduler`` touches the
``scheduler`` heartbeat file (:mod:`shared.heartbeat`) on every tick. Beat ticks at least
every ``beat_max_loop_interval`` (and our schedules are shorter); a tick that hangs (for
example while sending to a broker that does not answer) lets the file go stale, and the
container's health check (``python -m shared.heartbeat scheduler``) fails.

``newswire scheduler`` starts beat with this scheduler after checking that the broker
answers (plain ``celery beat`` retries an unreachable broker forever).
"""

from __future__ import annotations

from typing import Any

from celery.beat import PersistentScheduler

from shared import heartbeat
from shared.logging import get_logger

log = get_logger(__name__)


class HeartbeatScheduler(PersistentScheduler):
    """:class:`celery.beat.PersistentScheduler` that touches its heartbeat on each tick."""

    heartbeat_name = "scheduler"

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            heartbeat.touch(heartbeat.heartbeat_path(self.heartbeat_name))
        except OSError as exc:
            log.warning("heartbeat_failed", error=str(exc))
        return float(super().tick(*args, **kwargs))

    def close(self) -> None:
        heartbeat.clear(heartbeat.heartbeat_path(self.heartbeat_name))
        super().close()
