"""Which Celery signal receivers a fresh interpreter has connected, before and after some
code runs: for tests that receivers are connected by building an app, not by importing a
module (the test process itself has connected them already)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

_PROBE = """
import weakref
from celery import signals
{setup}
hooks = {hooks}
def count(sig, fn):  # receivers connected weakly are held as weak references
    live = [r() if isinstance(r, weakref.ReferenceType) else r for _, r in sig.receivers]
    return sum(1 for r in live if r is fn)
print([count(s, f) for s, f in hooks])
{build}
print([count(s, f) for s, f in hooks])
"""


def receiver_counts(setup: str, hooks: str, build: str) -> tuple[list[int], list[int]]:
    """In a fresh interpreter without a broker: run ``setup`` (imports), count how many
    times each ``(signal, receiver)`` of ``hooks`` (an expression over ``signals`` and
    the names ``setup`` bound) is connected, run ``build``, count again."""
    probe = _PROBE.format(
        setup=textwrap.dedent(setup).strip(), hooks=hooks, build=textwrap.dedent(build).strip()
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NEWSWIRE_BROKER_URL": ""},
    )
    assert out.returncode == 0, out.stderr
    before, after = out.stdout.split("\n")[:2]
    return ast.literal_eval(before), ast.literal_eval(after)
