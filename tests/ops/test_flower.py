"""`newswire flower`: refuses to start without credentials, refuses requests without them."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx

from testkit.processes import free_port
from testkit.workers import NEWSWIRE, ROOT, child_env, wait_for


def test_refuses_to_start_without_credentials(redis_url: str) -> None:
    for extra in ({}, {"NEWSWIRE_FLOWER_USER": "ops"}, {"NEWSWIRE_FLOWER_PASSWORD": "x" * 16}):
        out = subprocess.run(
            [NEWSWIRE, "flower", "--port", str(free_port())],
            cwd=ROOT,
            timeout=60,
            env=child_env(NEWSWIRE_BROKER_URL=redis_url, **extra),
            capture_output=True,
            text=True,
        )
        assert out.returncode == 1 and "NEWSWIRE_FLOWER_PASSWORD" in out.stderr
    weak = child_env(
        NEWSWIRE_BROKER_URL=redis_url,
        NEWSWIRE_ENV="production",
        NEWSWIRE_API_TOKEN="a-real-token-123",
        NEWSWIRE_FLOWER_USER="ops",
        NEWSWIRE_FLOWER_PASSWORD="changeme",
    )
    out = subprocess.run(
        [NEWSWIRE, "flower"], cwd=ROOT, env=weak, timeout=60, capture_output=True, text=True
    )
    assert out.returncode == 1 and "real secret" in out.stderr


def test_basic_auth_required(redis_url: str) -> None:
    port = free_port()
    env = child_env(
        NEWSWIRE_BROKER_URL=redis_url,
        NEWSWIRE_FLOWER_USER="ops",
        NEWSWIRE_FLOWER_PASSWORD="s3cret-enough-pw",
    )
    proc = subprocess.Popen(
        [NEWSWIRE, "flower", "--port", str(port), "--address", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:

        def up() -> bool:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                return True
            except httpx.TransportError:
                return False

        wait_for(up, 60, what="Flower to listen")
        url = f"http://127.0.0.1:{port}/"
        assert httpx.get(url, timeout=10).status_code == 401
        assert httpx.get(url, auth=("ops", "wrong"), timeout=10).status_code == 401
        assert httpx.get(url, auth=("ops", "s3cret-enough-pw"), timeout=10).status_code == 200
        api = f"http://127.0.0.1:{port}/api/workers"
        assert httpx.get(api, timeout=10).status_code == 401
        # The password never appears on the command line (ps shows it to every user).
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            assert b"s3cret" not in f.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
