"""Backpressure is a broker concern: it lives in :mod:`shared.backpressure` (every stage may
import shared); re-exported here for ``services.ops.backpressure`` callers."""

from shared.backpressure import WATCHED, over_high_water, wait_for_capacity, waiting

__all__ = ["WATCHED", "over_high_water", "wait_for_capacity", "waiting"]
