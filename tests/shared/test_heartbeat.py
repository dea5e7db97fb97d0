"""Liveness heartbeats (shared/heartbeat.py): the file a worker or the scheduler keeps fresh,
and the cheap check the compose health checks run, against real workers on the test Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared import heartbeat
from testkit.processes import wait_for
from testkit.workers import NEWSWIRE, ROOT, Worker, child_env


def _check(name: str, hb_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, heartbeat.HEARTBEAT_DIR_ENV: str(hb_dir)}
    return subprocess.run(
        [sys.executable, "-m", "shared.heartbeat", name, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _service_env(redis_url: str, database_url: str, hb_dir: Path) -> dict[str, str]:
    """A worker's or the scheduler's environment, its heartbeat files in ``hb_dir``."""
    return child_env(
        NEWSWIRE_BROKER_URL=redis_url,
        NEWSWIRE_DATABASE_URL=database_url,
        **{heartbeat.HEARTBEAT_DIR_ENV: str(hb_dir)},
    )


def test_check_fresh_stale_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(heartbeat.HEARTBEAT_DIR_ENV, str(tmp_path))
    path = heartbeat.heartbeat_path("enrich")
    assert path == tmp_path / "newswire-enrich.heartbeat"

    assert "does not exist" in (heartbeat.check(path) or "")
    heartbeat.touch(path)
    assert heartbeat.check(path, max_age=60) is None
    # the same file read 61 s later is stale
    assert "stuck" in (heartbeat.check(path, 60, now=path.stat().st_mtime + 61) or "")
    heartbeat.clear(path)
    assert not path.exists()


def test_names_cannot_escape_the_directory() -> None:
    for bad in ("", "../etc/passwd", "a/b", "x y"):
        with pytest.raises(ValueError):
            heartbeat.heartbeat_path(bad)


def test_command_exit_codes(tmp_path: Path) -> None:
    missing = _check("store", tmp_path)
    assert missing.returncode == 1 and "does not exist" in missing.stderr

    path = tmp_path / "newswire-store.heartbeat"
    path.touch()
    assert _check("store", tmp_path).returncode == 0
    old = time.time() - 120
    os.utime(path, (old, old))
    stale = _check("store", tmp_path, "--max-age", "60")
    assert stale.returncode == 1 and "stuck" in stale.stderr
    assert _check("store", tmp_path, "--max-age", "300").returncode == 0
    assert _check("../x", tmp_path).returncode == 2


def test_the_check_imports_no_celery(tmp_path: Path) -> None:
    """The point of the heartbeat: the health check is cheap (no Celery, no settings)."""
    code = (
        "import sys, runpy; sys.argv=['x','ingest']\n"
        "try:\n    runpy.run_module('shared.heartbeat', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('celery', 'kombu', 'pydantic', 'sqlalchemy') if m in sys.modules]\n"
        "print(heavy)"
    )
    env = {**os.environ, heartbeat.HEARTBEAT_DIR_ENV: str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_worker_keeps_its_heartbeat_and_clears_it_on_shutdown(
    redis_url: str, fresh_pg_url: str, tmp_path: Path
) -> None:
    env = _service_env(redis_url, fresh_pg_url, tmp_path)
    path = tmp_path / "newswire-ingest.heartbeat"
    with Worker("ingest", env, tmp_path / "worker.log", pool="prefork") as worker:
        worker.wait_ready()
        wait_for(path.exists, 30, what="the worker's heartbeat file")
        assert _check("ingest", tmp_path).returncode == 0
        first = path.stat().st_mtime
        # touched again from the consumer loop (every TOUCH_EVERY_S seconds)
        wait_for(
            lambda: path.exists() and path.stat().st_mtime > first,
            heartbeat.TOUCH_EVERY_S * 3,
            what="the heartbeat to be touched again",
        )
        assert _check("enrich", tmp_path).returncode == 1  # another service's file: absent
    assert not path.exists(), "a stopped worker must not look alive"
    assert _check("ingest", tmp_path).returncode == 1


def test_newswire_scheduler_touches_its_heartbeat(
    redis_url: str, fresh_pg_url: str, tmp_path: Path
) -> None:
    env = _service_env(redis_url, fresh_pg_url, tmp_path)
    path = tmp_path / "newswire-scheduler.heartbeat"
    log = open(tmp_path / "beat.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [NEWSWIRE, "scheduler", "--schedule-file", str(tmp_path / "beat-schedule")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(path.exists, 60, what="the scheduler's heartbeat file")
        assert _check("scheduler", tmp_path).returncode == 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()
    assert not path.exists(), (tmp_path / "beat.log").read_text()[-2000:]
