"""Processes for the fault suite and the pipeline bench: workers, beat, Redis, a TCP proxy.

Everything started here runs in a process group of its own and is stopped by
:meth:`Cluster.stop` (SIGTERM, then SIGKILL of the whole group), even on failure.
Logs are JSON lines (``NEWSWIRE_LOG_FORMAT=json``) in one file per process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from testkit.processes import Proc as ServiceProc
from testkit.processes import free_port, wait_for  # one poll-until helper for e2e and faults
from testkit.sampling import PeriodicSampler

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# ---------------------------------------------------------------- /proc helpers


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def proc_status_kib(pid: int, key: str) -> int:
    """A ``VmRSS``/``VmHWM`` line of /proc/<pid>/status in KiB (0 when gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (0 when gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


# ---------------------------------------------------------------- processes


@dataclass
class Proc(ServiceProc):
    """A compose service process, plus what fault injection needs; ``stop`` here never
    raises and always reaps the whole group (a test may have left it half killed)."""

    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def children(self) -> list[int]:
        return children_of(self.pid) if self.alive() else []

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (a container killed), and reap."""
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(30)

    def stop(self, timeout: float = 20) -> int | None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # stragglers of the group (pool children)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)
        return self.popen.returncode

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def json_events(paths: Iterable[Path], event: str | None = None) -> list[dict[str, Any]]:
    """Every JSON log line of these files (optionally only one event)."""
    out = []
    for path in paths:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if event is None or obj.get("event") == event:
                out.append(obj)
    return out


class MemorySampler(PeriodicSampler):
    """Peak resident memory (VmHWM) of every process of every worker, sampled."""

    def __init__(self, cluster: Cluster, interval: float = 0.5) -> None:
        super().__init__(interval)
        self.cluster = cluster
        self.peak_parent: dict[str, int] = {}
        self.peak_child: dict[str, int] = {}

    def sample(self) -> None:
        for proc in list(self.cluster.procs):
            if not proc.alive():
                continue
            key = proc.name.split("#")[0]
            hwm = proc_status_kib(proc.pid, "VmHWM")
            self.peak_parent[key] = max(self.peak_parent.get(key, 0), hwm)
            for child in proc.children():
                hwm = proc_status_kib(child, "VmHWM")
                self.peak_child[key] = max(self.peak_child.get(key, 0), hwm)

    def summary(self) -> str:
        names = sorted(set(self.peak_parent) | set(self.peak_child))
        return " ".join(
            f"{n}_peak_mib={self.peak_parent.get(n, 0) // 1024}"
            + (f"/{self.peak_child[n] // 1024}" if n in self.peak_child else "")
            for n in names
        )


class Cluster:
    """Workers (and beat) of one test run, sharing one environment."""

    def __init__(
        self, workdir: Path, broker_url: str, database_url: str, **settings: str | int
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.broker_url = broker_url
        self.database_url = database_url
        self.procs: list[Proc] = []
        self.all_logs: list[Path] = []
        self._count: dict[str, int] = {}
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
        env.update(
            {
                "PATH": str(BIN) + os.pathsep + env.get("PATH", ""),
                "PYTHONUNBUFFERED": "1",
                "NEWSWIRE_ENV": "development",
                "NEWSWIRE_BROKER_URL": broker_url,
                "NEWSWIRE_DATABASE_URL": database_url,
                "NEWSWIRE_LOG_FORMAT": "json",
                "NEWSWIRE_LOG_LEVEL": "INFO",
            }
        )
        env.update({f"NEWSWIRE_{k.upper()}": str(v) for k, v in settings.items()})
        self.env = env
        self.memory = MemorySampler(self)
        self.memory.start()

    def _start(self, name: str, argv: list[str], extra_env: dict[str, str] | None) -> Proc:
        n = self._count.get(name, 0) + 1
        self._count[name] = n
        log = self.workdir / f"{name}-{n}.log"
        env = dict(self.env)
        env.update(extra_env or {})
        with log.open("wb") as handle:
            popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(f"{name}#{n}", argv, popen, log)
        self.procs.append(proc)
        self.all_logs.append(log)
        return proc

    def worker(
        self,
        service: str,
        concurrency: int = 1,
        pool: str = "prefork",
        extra_env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> Proc:
        argv = [
            str(BIN / "newswire"),
            "worker",
            service,
            "-c",
            str(concurrency),
            "--pool",
            pool,
            "--loglevel",
            "INFO",
        ]
        proc = self._start(service, argv, extra_env)
        if wait:
            self.wait_ready(proc)
        return proc

    def wait_ready(self, proc: Proc, timeout: float = 90) -> None:
        def ready() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited early:\n{proc.log_text()[-3000:]}")
            return " ready." in proc.log_text()

        wait_for(ready, timeout, 0.3, f"{proc.name} ready")

    def beat(self) -> Proc:
        schedule = self.workdir / f"beat-schedule-{len(self.procs)}"
        argv = [
            str(BIN / "celery"),
            "-A",
            "services.entrypoints.beat:app",
            "beat",
            "--schedule",
            str(schedule),
            "--loglevel",
            "INFO",
        ]
        return self._start("beat", argv, None)

    def logs(self, prefix: str = "") -> list[Path]:
        return [p for p in self.all_logs if p.name.startswith(prefix)]

    def stop(self) -> None:
        self.memory.halt()
        for proc in reversed(self.procs):
            proc.stop(timeout=15)

    # -- sending ------------------------------------------------------------------

    def send_items(self, items: list[dict[str, Any]], per_message: int = 10) -> int:
        """Queue IngestRequest messages (as ``newswire ingest`` does with a broker)."""
        return send_items(self.broker_url, items, per_message)


def send_items(broker_url: str, items: list[dict[str, Any]], per_message: int = 10) -> int:
    from shared import queues
    from shared.celery_app import create_app
    from shared.schemas import IngestRequest, RawItem, dump
    from shared.settings import Settings

    app = create_app(Settings(broker_url=broker_url))
    sent = 0
    try:
        with app.producer_or_acquire() as producer:
            for start in range(0, len(items), per_message):
                part = [RawItem.model_validate(x) for x in items[start : start + per_message]]
                app.send_task(
                    queues.INGEST_ITEMS,
                    args=[dump(IngestRequest(items=part))],
                    producer=producer,
                )
                sent += len(part)
    finally:
        app.close()
    return sent


# ---------------------------------------------------------------- counting


@dataclass
class Census:
    expected: int
    stored: int
    duplicates: int
    lost: int
    rows: int
    redeliveries: int
    resent: int
    dead: dict[str, list[str]]  # reason -> article ids

    def line(self, fault: str, n: int, faults: int, extra: str = "") -> str:
        text = (
            f"FAULT {fault} N={n} faults={faults} stored={self.stored} "
            f"duplicates={self.duplicates} lost={self.lost} redeliveries={self.redeliveries}"
        )
        if self.resent:
            text += f" reconciler_resends={self.resent}"
        if self.dead:
            text += " dead_lettered=" + ",".join(
                f"{k}:{len(v)}" for k, v in sorted(self.dead.items())
            )
        return text + (f" {extra}" if extra else "")


def engine_for(database_url: str) -> sa.Engine:
    from shared.db import normalize_url

    return sa.create_engine(normalize_url(database_url), poolclass=sa.pool.NullPool)


def stored_count(database_url: str, tag: str) -> int:
    engine = engine_for(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM articles WHERE title LIKE :p"),
                    {"p": f"{tag} #%"},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def redeliveries_absorbed(logs: Iterable[Path]) -> int:
    """Articles the store upsert found already stored (``redelivery_absorbed`` events)."""
    total = 0
    for event in json_events(logs, "redelivery_absorbed"):
        if "articles" in event:
            total += int(event["articles"])
        else:
            total += int(event.get("updated", 0)) + int(event.get("stale", 0))
    return total


def census(
    database_url: str, tag: str, items: list[dict[str, Any]], logs: Iterable[Path]
) -> Census:
    """Count the run's articles in the store: every expected title exactly once."""
    expected = {x["title"] for x in items}
    engine = engine_for(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT title, count(*) FROM articles WHERE title LIKE :p GROUP BY title"),
                {"p": f"{tag} #%"},
            ).all()
            resent = conn.execute(
                sa.text(
                    "SELECT coalesce(sum(sends - 1), 0) FROM ingest_records "
                    "WHERE origin LIKE :p AND sends > 1"
                ),
                {"p": f"{tag}:%"},
            ).scalar_one()
            dead_rows = conn.execute(
                sa.text(
                    "SELECT d.reason, d.article_id FROM dead_letters d "
                    "JOIN ingest_records r ON r.article_id = d.article_id WHERE r.origin LIKE :p"
                ),
                {"p": f"{tag}:%"},
            ).all()
    finally:
        engine.dispose()
    found = {title: int(count) for title, count in rows}
    dead: dict[str, list[str]] = {}
    for reason, aid in dead_rows:
        dead.setdefault(reason, []).append(aid)
    unexpected = sum(c for t, c in found.items() if t not in expected)
    return Census(
        expected=len(expected),
        stored=sum(1 for t in expected if t in found),
        duplicates=sum(c - 1 for c in found.values()) + unexpected,
        lost=sum(1 for t in expected if t not in found),
        rows=sum(found.values()),
        redeliveries=redeliveries_absorbed(logs),
        resent=int(resent or 0),
        dead=dead,
    )


# ---------------------------------------------------------------- a Redis of our own


class RedisServer:
    """``redis-server`` with its own port and data directory, append-only file on."""

    def __init__(self, workdir: Path, appendfsync: str = "always") -> None:
        self.appendfsync = appendfsync
        self.dir = workdir / "redis-data"
        workdir.mkdir(parents=True, exist_ok=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "redis-server.log"
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
        ]
        with self.log.open("ab") as handle:
            self.proc = subprocess.Popen(
                argv, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(self.ping, 30, 0.1, "redis-server ping")

    def ping(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.exceptions.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


# ---------------------------------------------------------------- a TCP proxy we can cut


class TcpProxy:
    """127.0.0.1:<port> -> target; :meth:`cut` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = int(self.listener.getsockname()[1])
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self.refused = 0
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self._lock:
                self._socks -= {src, dst}

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.close()
