"""Moved to :mod:`testkit.processes` (compose services as processes); re-exported."""

from testkit.processes import *  # noqa: F403
