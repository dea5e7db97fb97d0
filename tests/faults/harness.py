"""Moved to :mod:`testkit.cluster` (the fault harness, shared with the benches); re-exported."""

from testkit.cluster import *  # noqa: F403
