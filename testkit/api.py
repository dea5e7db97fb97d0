"""The HTTP API from a test or a bench: the app as uvicorn serves it (a subprocess on a free
port), or in process with a test client bound to one database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.entrypoints.api import create_app
from services.store.api.deps import get_session
from shared import db
from testkit.processes import ROOT, free_port, wait_for

UVICORN = str(Path(sys.executable).parent / "uvicorn")
API_APP = "services.entrypoints.api:app"  # as docker-compose.yml and the README start it


def make_client(url: str) -> TestClient:
    """The API app in process, every request's session on the database at ``url``."""
    app = create_app()

    def session_for_url() -> Iterator[Session]:
        with db.get_sessionmaker(url)() as session:
            yield session

    app.dependency_overrides[get_session] = session_for_url
    return TestClient(app)


class ApiProcess:
    """``uvicorn API_APP`` on a free port of 127.0.0.1 as a subprocess; stopped on exit."""

    def __init__(self, env: dict[str, str], log: Path | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = open(log, "ab") if log else None  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [UVICORN, API_APP, "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT if self._out else None,
            start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-3000:] if self.log else ""
                raise AssertionError(f"api died: {tail}")
            try:
                return httpx.get(self.base + "/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout, 0.2, "the api process to answer /health")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self._out:
            self._out.close()

    def __enter__(self) -> ApiProcess:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()
