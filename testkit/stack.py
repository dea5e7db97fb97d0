"""The repository's docker-compose.yml on a real Docker engine, driven from tests and benches.

One :class:`Stack` is one compose project (a unique name, its own volumes, its own ``.env``
with random secrets) built from the repository's own ``Dockerfile``. Everything goes through
the ``docker`` and ``docker compose`` (or Debian's ``docker-compose``) command lines, as an
operator would type them.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from testkit.processes import free_port, wait_for
from testkit.sampling import PeriodicSampler

ROOT = Path(__file__).resolve().parents[1]
# The deployment tests' override (fast delivery settings); benches leave it out.
OVERRIDE = ROOT / "tests" / "deploy" / "compose.test.yml"
STANDINS = ROOT.parent / "shared" / "docker" / "standins.sh"

# Services of docker-compose.yml without a profile: one-shot migrate, the rest long-running.
ONE_SHOT = {"migrate"}
LONG_RUNNING = [
    "redis",
    "postgres",
    "ingest-worker",
    "enrich-worker",
    "store-worker",
    "scheduler",
    "api",
    "flower",
]
APP_SERVICES = ["ingest-worker", "enrich-worker", "store-worker", "scheduler", "api", "flower"]


def compose_command() -> list[str]:
    """``docker compose`` (v2 plugin) when present, else Debian's ``docker-compose`` (1.29)."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")


def run(cmd: list[str], timeout: float = 600, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def must(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if proc.returncode != 0:
        raise AssertionError(
            f"`{' '.join(map(str, proc.args))}` exited {proc.returncode}\n"
            f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
        )
    return proc


def build_image(tag: str, context: Path = ROOT) -> float:
    """``docker build`` of the repository's Dockerfile; seconds taken."""
    t0 = time.monotonic()
    must(run(["docker", "build", "-q", "-t", tag, str(context)], timeout=1800))
    return time.monotonic() - t0


def random_env(image_tag: str) -> dict[str, str]:
    """A complete .env: every key of .env.example, secrets random, ports free."""
    env: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    env.update(
        REDIS_PASSWORD=secrets.token_hex(16),
        POSTGRES_PASSWORD=secrets.token_hex(16),
        NEWSWIRE_API_TOKEN=secrets.token_hex(24),
        NEWSWIRE_API_READ_TOKEN=secrets.token_hex(24),
        NEWSWIRE_FLOWER_USER="operator",
        NEWSWIRE_FLOWER_PASSWORD=secrets.token_hex(16),
        NEWSWIRE_IMAGE_TAG=image_tag,
        NEWSWIRE_API_PORT=str(free_port()),
        NEWSWIRE_FLOWER_PORT=str(free_port()),
    )
    return env


@dataclass
class ServiceState:
    service: str
    container: str
    status: str  # running, exited, restarting ...
    health: str | None  # healthy, starting, unhealthy, None (no healthcheck)
    exit_code: int
    restarts: int
    pid: int
    oom_killed: bool


class Stack:
    """One compose project of docker-compose.yml (+ the test-only override)."""

    def __init__(self, workdir: Path, project: str, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.project = project
        self.env = env
        self.env_file = workdir / ".env"
        self.write_env()
        self.files = [ROOT / "docker-compose.yml", OVERRIDE]
        self.base = compose_command()
        self.sampler: MemorySampler | None = None
        self.extra_images: list[str] = []

    # ------------------------------------------------------------ compose

    def write_env(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))

    def compose_args(self) -> list[str]:
        args = [*self.base, "-p", self.project, "--env-file", str(self.env_file)]
        args += ["--project-directory", str(ROOT)]
        for f in self.files:
            args += ["-f", str(f)]
        return args

    def compose(
        self, *args: str, timeout: float = 600, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = run([*self.compose_args(), *args], timeout=timeout, input=input, cwd=ROOT)
        return must(proc) if check else proc

    def exec(
        self, service: str, *cmd: str, input: str | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``docker compose exec -T SERVICE CMD`` (no TTY: scripts, pipes)."""
        return self.compose("exec", "-T", service, *cmd, input=input, timeout=timeout, check=False)

    def running(self, service: str) -> str | None:
        """The id of the service's running container, None when it is not running (one
        ``docker ps``, without the ``docker inspect`` of :meth:`container`)."""
        ids = self.container_ids(all_=False, service=service)
        return ids[0] if ids else None

    def engine_exec(
        self, service: str, *cmd: str, input: str | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``docker exec -i CONTAINER CMD``: what ``exec`` does, without the compose client.

        Debian's docker-compose 1.29 is a Python program that costs about 0.4 s of CPU per
        call; polling PostgreSQL through it twice a second took a fifth of this 2-core
        machine away from the stack it was measuring. The engine's own client costs ~0.02 s.
        """
        cid = self.running(service)
        if cid is None:
            return subprocess.CompletedProcess(cmd, 1, "", f"{service}: no running container")
        return run(["docker", "exec", "-i", cid, *cmd], timeout=timeout, input=input)

    def put_files(self, service: str, directory: str, files: dict[str, bytes]) -> None:
        """Copy files into a running container's /tmp (a tmpfs: `docker cp` cannot reach it),
        as a tar stream through ``docker exec -i``."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
        cid = self.container(service)
        cmd = [
            "docker",
            "exec",
            "-i",
            cid,
            "sh",
            "-c",
            f"mkdir -p {directory} && tar -x -C {directory}",
        ]
        proc = subprocess.run(cmd, input=buf.getvalue(), capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")

    def psql(self, sql: str) -> list[list[str]]:
        """Rows of one query, run by psql inside the postgres container (no published port)."""
        proc = self.engine_exec(
            "postgres", "psql", "-U", "newswire", "-d", "newswire", "-At", "-F", "\t", "-c", sql
        )
        must(proc)
        return [line.split("\t") for line in proc.stdout.splitlines() if line]

    def scalar(self, sql: str) -> int:
        return int(self.psql(sql)[0][0])

    # ------------------------------------------------------------ containers

    def container_ids(self, all_: bool = True, service: str | None = None) -> list[str]:
        """Ids of the project's containers (``all_``: stopped ones too), of one ``service``
        or of all: the lookup behind :meth:`states` (so :meth:`container`) and :meth:`running`."""
        cmd = ["docker", "ps", "-q", "--no-trunc"]
        cmd += ["-a"] if all_ else []
        cmd += ["--filter", f"label=com.docker.compose.project={self.project}"]
        if service is not None:
            cmd += ["--filter", f"label=com.docker.compose.service={service}"]
        return must(run(cmd, timeout=60)).stdout.split()

    def states(self) -> dict[str, ServiceState]:
        ids = self.container_ids()
        if not ids:
            return {}
        out: dict[str, ServiceState] = {}
        for c in json.loads(must(run(["docker", "inspect", *ids], timeout=60)).stdout):
            service = c["Config"]["Labels"].get("com.docker.compose.service", "?")
            st = c["State"]
            state = ServiceState(
                service=service,
                container=c["Id"],
                status=st["Status"],
                health=(st.get("Health") or {}).get("Status"),
                exit_code=int(st.get("ExitCode") or 0),
                restarts=int(c.get("RestartCount") or 0),
                pid=int(st.get("Pid") or 0),
                oom_killed=bool(st.get("OOMKilled")),
            )
            prev = out.get(service)
            if prev is None or (prev.status != "running" and state.status == "running"):
                out[service] = state
        return out

    def mem_limits(self) -> dict[str, float]:
        """mem_limit of every service's container, MiB (0 = none)."""
        out = {}
        for name, st in self.states().items():
            c = json.loads(must(run(["docker", "inspect", st.container], timeout=60)).stdout)[0]
            out[name] = int(c["HostConfig"].get("Memory") or 0) / 2**20
        return out

    def container(self, service: str) -> str:
        return self.states()[service].container

    def not_ready(self) -> list[str]:
        """Services that are not yet what they should be (healthy, or migrate exited 0)."""
        states = self.states()
        bad = []
        for name in LONG_RUNNING:
            s = states.get(name)
            if s is None or s.status != "running" or s.health not in (None, "healthy"):
                bad.append(f"{name}={s.status + '/' + str(s.health) if s else 'missing'}")
        for name in ONE_SHOT:
            s = states.get(name)
            if s is None or s.status != "exited" or s.exit_code != 0:
                bad.append(f"{name}={s.status + '/' + str(s.exit_code) if s else 'missing'}")
        return bad

    def wait_healthy(self, timeout: float = 600) -> float:
        """Seconds until every service is healthy (migrate: exited 0)."""
        t0 = time.monotonic()
        last: list[str] = []

        def ready() -> bool:
            nonlocal last
            last = self.not_ready()
            failed = [x for x in last if x.startswith("migrate=exited")]
            assert not failed, f"migrate failed: {failed}\n{self.logs_tail(['migrate'])}"
            return not last

        try:
            wait_for(ready, timeout, 1.0, "every service healthy")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: not ready: {last}") from None
        return time.monotonic() - t0

    def up(self, timeout: float = 600) -> float:
        """``up -d`` and wait: seconds from the command to every service healthy."""
        t0 = time.monotonic()
        self.compose("up", "-d", "--no-build", timeout=timeout)
        self.wait_healthy(timeout)
        return time.monotonic() - t0

    def logs_tail(self, services: Iterable[str] = (), lines: int = 60) -> str:
        proc = self.compose("logs", "--no-color", f"--tail={lines}", *services, check=False)
        return proc.stdout[-20000:] + proc.stderr[-2000:]

    def down(self, volumes: bool = True) -> None:
        self.compose("down", "--remove-orphans", *(["-v"] if volumes else []), check=False)

    # ------------------------------------------------------------ HTTP API

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['NEWSWIRE_API_PORT']}"

    def api(self, method: str, path: str, token: str | None = "read", **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token == "read":
            headers["Authorization"] = f"Bearer {self.env['NEWSWIRE_API_READ_TOKEN']}"
        elif token == "write":
            headers["Authorization"] = f"Bearer {self.env['NEWSWIRE_API_TOKEN']}"
        return httpx.request(method, self.api_url + path, headers=headers, timeout=60, **kw)

    # ------------------------------------------------------------ counting

    def census(self, tag: str, titles: set[str]) -> dict[str, int]:
        """Every expected title exactly once? (like testkit.cluster's census)."""
        rows = self.psql(
            f"SELECT title, count(*) FROM articles WHERE title LIKE '{tag} #%' GROUP BY title"
        )
        found = {title: int(n) for title, n in rows}
        unexpected = sum(n for t, n in found.items() if t not in titles)
        return {
            "N": len(titles),
            "stored": sum(1 for t in titles if t in found),
            "duplicates": sum(n - 1 for n in found.values()) + unexpected,
            "lost": sum(1 for t in titles if t not in found),
            "rows": sum(found.values()),
        }

    def stored_count(self, tag: str) -> int:
        """Articles of a run stored so far (0 while PostgreSQL does not answer: polling)."""
        try:
            return self.scalar(f"SELECT count(*) FROM articles WHERE title LIKE '{tag} #%'")
        except AssertionError:
            return 0

    def wait_database(self, timeout: float = 300) -> None:
        """Until PostgreSQL accepts queries again (after a stop/start it replays its WAL)."""

        def answers() -> bool:
            try:
                return self.scalar("SELECT 1") == 1
            except AssertionError:
                return False

        wait_for(answers, timeout, 1.0, "PostgreSQL accepting queries")

    def quiesce(self, timeout: float = 300) -> None:
        """Until nothing is in flight: every received article stored, duplicate or dead."""
        self.wait_database(timeout)
        wait_for(
            lambda: (
                self.scalar("SELECT count(*) FROM ingest_records WHERE status = 'received'") == 0
            ),
            timeout,
            2.0,
            "no article in flight",
        )

    def dead_letters(self) -> list[list[str]]:
        return self.psql("SELECT reason, count(*) FROM dead_letters GROUP BY reason")

    def resends(self) -> int:
        return self.scalar("SELECT coalesce(sum(sends - 1), 0) FROM ingest_records WHERE sends > 1")


_SIZE = re.compile(r"([\d.]+)\s*([KMGT]?i?B)")
_UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "TiB": 2**20}
_UNITS.update({"kB": 1 / 1024, "KB": 1 / 1024, "MB": 1, "GB": 1024})


def mib(text: str) -> float:
    m = _SIZE.match(text.strip())
    return float(m.group(1)) * _UNITS.get(m.group(2), 1) if m else 0.0


class MemorySampler(PeriodicSampler):
    """Peak memory per compose service from ``docker stats`` (the cgroup's usage), sampled."""

    final_sample = False  # `docker stats --no-stream` takes seconds

    def __init__(self, stack: Stack, interval: float = 1.0) -> None:
        super().__init__(interval)
        self.stack = stack
        self.peak: dict[str, float] = {}
        self._names: dict[str, str] = {}

    def service_of(self, cid: str) -> str | None:
        if cid not in self._names:
            for s in self.stack.states().values():
                self._names[s.container[:12]] = s.service
        return self._names.get(cid[:12])

    def sample(self) -> None:
        ids = self.stack.container_ids(all_=False)
        if not ids:
            return
        fmt = "{{.ID}}\t{{.MemUsage}}"
        proc = run(["docker", "stats", "--no-stream", "--format", fmt, *ids], timeout=60)
        for line in proc.stdout.splitlines():
            cid, _, usage = line.partition("\t")
            service = self.service_of(cid)
            if service:
                used = mib(usage.split("/")[0])
                self.peak[service] = max(self.peak.get(service, 0.0), used)

    def summary(self) -> str:
        return " ".join(f"{k}={v:.0f}MiB" for k, v in sorted(self.peak.items()))
