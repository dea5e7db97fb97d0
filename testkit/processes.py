"""Run docker-compose.yml services as local processes (no Docker engine needed).

Each service's ``command:`` and the shared ``x-app`` environment are taken from the
compose file; ``${VAR:?...}`` / ``${VAR:-default}`` are filled from ``.env.example``
and hostnames (``redis``, ``postgres``) are replaced by the URLs of the local
Redis and PostgreSQL that the test gives.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env


def interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            name, op, arg = m.group(1), m.group(2), m.group(3)
            got = env.get(name, "")
            if op == "?" and not got:
                raise KeyError(f"compose needs {name}: {arg}")
            if op == "-" and not got:
                return arg or ""
            return got

        return _VAR.sub(repl, value.replace("$$", "\x00")).replace("\x00", "$")
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def load_compose(env: dict[str, str]) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return interpolate(data, env)


@dataclass
class Proc:
    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 60) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
                raise
        return self.popen.returncode


def service_env(compose: dict[str, Any], service: str, overrides: dict[str, str]) -> dict[str, str]:
    svc = compose["services"][service]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    for key, value in (svc.get("environment") or {}).items():
        env[key] = "" if value is None else str(value)
    env.update(overrides)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_service(
    compose: dict[str, Any],
    service: str,
    overrides: dict[str, str],
    logdir: Path,
    replace_args: dict[str, str] | None = None,
) -> Proc:
    """Start one compose service's command as a process in its own process group."""
    svc = compose["services"][service]
    argv = [str(a) for a in svc["command"]]
    argv = [(replace_args or {}).get(a, a) for a in argv]  # exact arguments only
    log = logdir / f"{service}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=service_env(compose, service, overrides),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Proc(service, argv, popen, log)


def wait_for(predicate: Any, timeout: float, interval: float = 0.5, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate}: {last!r}")
