"""Liveness heartbeats: a worker or the scheduler touches a file while it is working;
its health check only reads the file's age.

Why a file: a health check that pings the worker over the broker has to start Python,
import Celery and the CLI (about 1.2 s of CPU), every 30 s, in every container; on a
small machine that was most of the gap between containers and local processes. Reading a
file's age costs a few milliseconds, and says more: the file is touched from inside the
worker's consumer loop (a bootstep started when the consumer is connected to the broker and
stopped when it loses it, see :mod:`shared.worker_hooks`), and from the scheduler's tick
(:mod:`shared.beat`), so a hung loop or a lost broker connection lets the file go stale.

Usage in a container (the compose health checks)::

    python -m shared.heartbeat ingest            # exit 0 when touched in the last 60 s
    python -m shared.heartbeat scheduler --max-age 90

This module imports only the standard library, on purpose: the check must stay cheap.
``newswire health worker SERVICE`` remains the end-to-end check (a ping over the broker)
for operators.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HEARTBEAT_DIR_ENV = "NEWSWIRE_HEARTBEAT_DIR"  # tests: one directory per run
TOUCH_EVERY_S = 10.0
DEFAULT_MAX_AGE_S = 60.0


def heartbeat_path(name: str) -> Path:
    """The heartbeat file of ``name`` (a service, or ``scheduler``) on this host/container."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"bad heartbeat name {name!r}")
    base = os.environ.get(HEARTBEAT_DIR_ENV) or tempfile.gettempdir()
    return Path(base) / f"newswire-{name}.heartbeat"


def touch(path: Path) -> None:
    """Record that the loop is alive now (creates the file, or moves its mtime)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()  # creates it, or sets its mtime to now


def clear(path: Path) -> None:
    """The loop stopped on purpose (shutdown, lost broker): the check fails at once."""
    path.unlink(missing_ok=True)


def check(path: Path, max_age: float = DEFAULT_MAX_AGE_S, now: float | None = None) -> str | None:
    """None when the file was touched within ``max_age`` seconds, else why not."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return f"{path} does not exist (not started yet, stopped, or not connected to the broker)"
    age = (time.time() if now is None else now) - mtime
    if age > max_age:
        return f"{path} last touched {age:.0f}s ago (more than {max_age:.0f}s): the loop is stuck"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.heartbeat",
        description="Exit 0 when NAME's heartbeat file was touched recently (compose health).",
    )
    parser.add_argument("name", help="ingest, enrich, store or scheduler")
    parser.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE_S, help="seconds")
    args = parser.parse_args(argv)
    try:
        path = heartbeat_path(args.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problem = check(path, args.max_age)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    print(f"{args.name}: alive")
    return 0


if __name__ == "__main__":
    sys.exit(main())
