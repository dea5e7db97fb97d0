"""Start-up errors people can act on, checked on local processes (no Docker needed).

A placeholder secret, a malformed URL, a database or broker that cannot be used: every entry
point of the compose services (``newswire`` commands, ``uvicorn ...:app``, ``celery beat``)
prints one line naming the variable and what to do, exits non-zero, and shows no traceback.
tests/deploy/test_compose.py checks the same inside the image.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]

ENTRY_POINTS = {
    "worker": [str(BIN / "newswire"), "worker", "enrich", "--concurrency", "1"],
    "migrate": [str(BIN / "newswire"), "db", "upgrade"],
    "api": [str(BIN / "uvicorn"), "services.entrypoints.api:app", "--port", "0"],
    "beat": [str(BIN / "newswire"), "scheduler", "--schedule-file", "/dev/null"],
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    return subprocess.run(
        cmd, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def one_line(proc: subprocess.CompletedProcess[str], variable: str) -> str:
    text = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0, text
    assert "Traceback" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert variable in lines[0], text
    return lines[0]


PRODUCTION = {
    "NEWSWIRE_ENV": "production",
    "NEWSWIRE_API_TOKEN": "a-real-token-4f9e2c",
    "NEWSWIRE_BROKER_URL": "redis://:s3cret-pw@127.0.0.1:6379/15",
    "NEWSWIRE_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_placeholder_token_is_one_line(entry: str) -> None:
    env = {**PRODUCTION, "NEWSWIRE_API_TOKEN": "change-me-api-write-token"}
    line = one_line(start(ENTRY_POINTS[entry], **env), "NEWSWIRE_API_TOKEN")
    assert "real secret" in line


@pytest.mark.parametrize(
    ("variable", "value", "hint"),
    [
        ("NEWSWIRE_API_TOKEN", "", "real secret"),
        ("NEWSWIRE_BROKER_URL", "redis://:change-me-redis@redis:6379/0", "REDIS_PASSWORD"),
        ("NEWSWIRE_DATABASE_URL", "postgresql://u:change-me-postgres@pg/db", "POSTGRES_PASSWORD"),
        ("NEWSWIRE_DATABASE_URL", "mysql://u:p@h/db", "postgresql://"),
        ("NEWSWIRE_BROKER_URL", "amqp://guest@h//", "redis://"),
    ],
)
def test_bad_setting_is_one_line(variable: str, value: str, hint: str) -> None:
    line = one_line(start(ENTRY_POINTS["worker"], **{**PRODUCTION, variable: value}), variable)
    assert hint in line


def test_database_password_refused_is_one_line() -> None:
    env = {**PRODUCTION, "NEWSWIRE_DATABASE_URL": "postgresql://no_such_role:pw@127.0.0.1/x"}
    line = one_line(start(ENTRY_POINTS["migrate"], **env), "NEWSWIRE_DATABASE_URL")
    assert "no_such_role" in line


@pytest.mark.parametrize("entry", ["worker", "beat"])
def test_unreachable_broker_is_one_line(entry: str) -> None:
    env = {**PRODUCTION, "NEWSWIRE_BROKER_URL": f"redis://:pw@127.0.0.1:{closed_port()}/0"}
    line = one_line(start(ENTRY_POINTS[entry], **env), "NEWSWIRE_BROKER_URL")
    assert "reachable" in line
