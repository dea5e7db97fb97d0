"""Moved to :mod:`testkit.corpus` (the generated corpus, shared with the benches); re-exported."""

from testkit.corpus import *  # noqa: F403
