"""Broker mode from a test or a bench: ``newswire worker`` subprocesses and the environment
they get (the test's Redis db and PostgreSQL database, no ``NEWSWIRE_*`` of the caller).

The ``broker`` fixture (``tests/conftest.py``) yields a :class:`Broker`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.ops.queues import control_app
from shared.settings import get_settings
from testkit.processes import ROOT, wait_for

NEWSWIRE = str(Path(sys.executable).parent / "newswire")


def newswire(
    *args: str, env: dict[str, str], check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``newswire ARGS`` as an operator types it, from the repository root (output as text)."""
    return subprocess.run(
        [NEWSWIRE, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env.update({"NEWSWIRE_LOG_LEVEL": "WARNING", "NEWSWIRE_LOG_FORMAT": "json"})
    env.update(extra)
    return env


class Worker:
    """``newswire worker SERVICE`` as a subprocess, stopped on exit."""

    def __init__(self, service: str, env: dict[str, str], log: Path, pool: str = "solo") -> None:
        self.service = service
        self.name = f"{service}@{socket.gethostname()}"
        args = [NEWSWIRE, "worker", service, "--pool", pool, "--loglevel", "WARNING"]
        if pool == "prefork":
            args += ["--concurrency", "1"]
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.broker = env["NEWSWIRE_BROKER_URL"]

    def wait_ready(self, timeout: float = 90) -> None:
        app = control_app(self.broker)

        def pong() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker died: {self.log.read_text()[-3000:]}")
            replies = app.control.ping(destination=[self.name], timeout=0.5) or []
            return any(self.name in r for r in replies)

        wait_for(pong, timeout, what=f"{self.name} to answer ping")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._out.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()


@dataclass
class Broker:
    redis_url: str
    db_url: str
    tmp: Path
    env: Any
    client: Any

    def newswire(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``newswire ARGS`` against this broker and database."""
        return newswire(*args, env=self.child_env(), check=check)

    def child_env(self, **extra: str) -> dict[str, str]:
        return child_env(
            NEWSWIRE_BROKER_URL=self.redis_url,
            NEWSWIRE_DATABASE_URL=self.db_url,
            NEWSWIRE_BATCH_SIZE=get_settings().batch_size.__str__(),
            **extra,
        )
