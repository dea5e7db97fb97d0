"""Containers against local processes: the same load through both, in one run.

Brings up the repository's docker-compose.yml (image built from the Dockerfile, a .env of
random secrets, no test override) and, beside it, the same workers as local processes
(``newswire worker ingest -c 2``, ``enrich -c 2``, ``store -c 1``, as in the compose file)
on a private redis-server (append-only, fsync every second) and a private PostgreSQL server
(Debian's, default settings, as in the stand-in image; ``--host-postgres``: a database on the
host's server instead). The local processes run in a cgroup beside the containers under
/docker (``--host-cgroup``: not), so host load weighs on both sides alike. Both get the
same articles the same way (``newswire ingest FILE``: inside the api container for the
stack, a local process for the other) and the same batch size.
Rounds alternate (stack, local, stack, local ...); throughput = articles / seconds from
the ingest command to the last ``stored_at``, both sides polled alike from this process (the
stack's PostgreSQL at its container's address). Prints every round, the medians, the ratio,
and the CPU per article of the workers, of the other containers and of the engine itself::

    python bench/compose_pipeline.py --articles 200 --rounds 5

Needs a Docker engine with the stand-in images (``../shared/docker/standins.sh``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from testkit.cluster import (  # noqa: E402
    Cluster,
    RedisServer,
    cpu_seconds,
    engine_for,
    free_port,
)
from testkit.corpus import make_corpus  # noqa: E402
from testkit.processes import wait_for  # noqa: E402
from testkit.stack import ROOT as REPO  # noqa: E402
from testkit.stack import MemorySampler, Stack, build_image, random_env  # noqa: E402

WORDS = (300, 800)  # as bench/pipeline.py
WORKERS = ("ingest-worker", "enrich-worker", "store-worker")


SUPPORT = ("redis", "postgres", "api", "flower", "scheduler")


def container_cpu(stack: Stack, names: tuple[str, ...] = WORKERS) -> float:
    """CPU seconds used so far by these containers (their cgroups: health checks too)."""
    total = 0.0
    for name in names:
        cid = stack.container(name)
        for path, scale in (
            (f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage", 1e-9),  # cgroup v1
            (f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat", 1e-6),  # v2, systemd
            (f"/sys/fs/cgroup/docker/{cid}/cpu.stat", 1e-6),  # v2, cgroupfs
        ):
            with suppress(OSError, ValueError):
                text = Path(path).read_text()
                if path.endswith("cpu.stat"):
                    text = text.split("usage_usec", 1)[1].split()[0]
                total += int(text.strip()) * scale
                break
    return total


def process_cpu(cluster: Cluster) -> float:
    """CPU seconds used so far by the local workers (parents and pool children)."""
    total = 0.0
    for proc in cluster.procs:
        if proc.alive() and not proc.name.startswith("beat"):
            total += sum(cpu_seconds(p) for p in [proc.pid, *proc.children()])
    return total


def jsonl(items: list[dict]) -> bytes:
    keys = ("title", "body", "url", "published", "source")
    return "".join(json.dumps({k: x[k] for k in keys}) + "\n" for x in items).encode()


def stack_database_url(stack: Stack) -> str:
    """The stack's PostgreSQL at its container's address on the compose network: the bench
    polls it the way it polls the local side's, from this process (no port is published)."""
    cid = stack.running("postgres")
    assert cid, "postgres is not running"
    info = json.loads(
        subprocess.run(
            ["docker", "inspect", cid], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    ip = next(n["IPAddress"] for n in info["NetworkSettings"]["Networks"].values())
    return f"postgresql://newswire:{stack.env['POSTGRES_PASSWORD']}@{ip}:5432/newswire"


ENGINE = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "docker-proxy")


def engine_cpu() -> float:
    """CPU seconds used so far by the engine's host processes (dockerd, containerd, the
    shims that carry every container's stdout): outside the containers' cgroups."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            if name.startswith(ENGINE):
                fields = text[text.rindex(")") + 2 :].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def machine_idle() -> tuple[int, int]:
    """(idle, total) jiffies of the whole machine so far (/proc/stat; iowait counts as idle)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields[:8])


def timed_round(
    n: int, tag: str, database_url: str, ingest: Callable[[], None]
) -> tuple[float, float]:
    """(articles per second from the ingest command to the last ``stored_at``, seconds the
    ingest command took), polling the side's own PostgreSQL from this process. Also prints
    how idle the machine was meanwhile: idle cores while a side is slower mean it waited
    (latency), none mean it got less CPU than the other side did."""
    engine = engine_for(database_url)
    try:

        def scalar(sql: str) -> float:
            with engine.connect() as conn:
                return float(conn.execute(sa.text(sql)).scalar_one() or 0)

        like = f"title LIKE '{tag} #%'"
        t0 = scalar("SELECT extract(epoch FROM clock_timestamp())")
        idle0 = machine_idle()
        exec0 = time.monotonic()
        ingest()
        exec_s = time.monotonic() - exec0
        wait_for(
            lambda: scalar(f"SELECT count(*) FROM articles WHERE {like}") >= n,
            60 + 3 * n,
            0.5,
            f"{tag} stored",
        )
        last = scalar(f"SELECT extract(epoch FROM max(stored_at)) FROM articles WHERE {like}")
        idle1 = machine_idle()
    finally:
        engine.dispose()
    idle = (idle1[0] - idle0[0]) / max(1, idle1[1] - idle0[1])
    print(f"    {tag}: {last - t0:.1f} s, machine {100 * idle:.0f}% idle meanwhile", flush=True)
    return n / (last - t0), exec_s


@dataclass
class Round:
    rate: float  # articles per second
    workers: float  # the three workers' CPU seconds per article
    side: float | None  # everything the side ran, CPU seconds per article (None: unknown)


def stack_round(stack: Stack, n: int, tag: str, seed: int) -> Round:
    items = make_corpus(n, tag, seed, WORDS)
    cpu0 = container_cpu(stack)
    support0 = {name: container_cpu(stack, (name,)) for name in SUPPORT}
    engine0 = engine_cpu()
    stack.put_files("api", f"/tmp/{tag}", {"articles.jsonl": jsonl(items)})

    def ingest() -> None:
        # The engine's client, not Debian's docker-compose 1.29 (a Python program: ~0.6 s
        # and 0.4 s of CPU per call; `docker compose` v2 costs what `docker exec` costs).
        out = stack.engine_exec("api", "newswire", "ingest", f"/tmp/{tag}")
        assert out.returncode == 0, out.stdout + out.stderr

    rate, exec_s = timed_round(n, tag, stack_database_url(stack), ingest)
    workers = (container_cpu(stack) - cpu0) / n
    support = {name: (container_cpu(stack, (name,)) - support0[name]) / n for name in SUPPORT}
    engine = (engine_cpu() - engine0) / n
    print(
        f"    stack round: `docker exec api newswire ingest` took {exec_s:.1f} s; "
        "other containers' CPU per article: "
        + ", ".join(f"{name} {1000 * sec:.0f} ms" for name, sec in support.items())
        + f"; engine (dockerd, containerd, shims) {1000 * engine:.0f} ms",
        flush=True,
    )
    return Round(rate, workers, workers + sum(support.values()) + engine)


def local_round(
    cluster: Cluster, n: int, tag: str, seed: int, workdir: Path, group: Path | None
) -> Round:
    items = make_corpus(n, tag, seed, WORDS)
    cpu0 = process_cpu(cluster)
    side0 = group_cpu(group)
    engine0 = engine_cpu()
    path = workdir / f"{tag}.jsonl"
    path.write_bytes(jsonl(items))

    def ingest() -> None:
        out = subprocess.run(
            [str(Path(sys.executable).parent / "newswire"), "ingest", str(path)],
            env=cluster.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stdout + out.stderr

    rate, exec_s = timed_round(n, tag, cluster.database_url, ingest)
    side = (group_cpu(group) - side0) / n if group is not None else None
    print(
        f"    local round: `newswire ingest` took {exec_s:.1f} s; engine "
        f"{1000 * (engine_cpu() - engine0) / n:.0f} ms per article (the idle stack's)",
        flush=True,
    )
    return Round(rate, (process_cpu(cluster) - cpu0) / n, side)


CPU_CGROUP = Path("/sys/fs/cgroup/cpu")  # cgroup v1, Docker's cgroupfs driver
ACCT_CGROUP = Path("/sys/fs/cgroup/cpuacct")


def join_docker_cgroup() -> Path | None:
    """Put this process (hence every local process it starts from now on) in a cgroup beside
    the containers, under Docker's own ``/docker`` parent, and return it.

    Why: with cgroup v1 the containers share the CPU weight of ``/docker`` (1024) against
    each busy host process, while a local process competes as itself. On a machine busy with
    other work that alone slows the stack, whatever the containers cost. Under the same
    parent, the two sides meet host load with the same weight, so what remains is the cost
    of running in containers. None (and nothing changed) where this does not apply (cgroup
    v2, another driver, not root); the bench then says so.
    """
    parent = CPU_CGROUP / "docker"
    if not (parent / "cgroup.procs").exists() or not os.access(parent, os.W_OK):
        return None
    group = parent / f"newswire-bench-local-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "cpu.shares").write_text((parent / "cpu.shares").read_text())
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return None
    with suppress(OSError):  # where cpuacct is its own hierarchy: count the side's CPU too
        acct = ACCT_CGROUP / "docker" / group.name
        if not (acct / "cpuacct.usage").exists() or acct.resolve() != group.resolve():
            acct.mkdir(exist_ok=True)
            (acct / "cgroup.procs").write_text(str(os.getpid()))
    return group


def group_cpu(group: Path | None) -> float:
    """CPU seconds used so far by everything in the local side's cgroup (workers, beat,
    PostgreSQL, redis-server, and this bench process with its polling); 0 if unknown."""
    if group is None:
        return 0.0
    with suppress(OSError, ValueError):
        return int((ACCT_CGROUP / "docker" / group.name / "cpuacct.usage").read_text()) / 1e9
    return 0.0


def leave_cgroup(group: Path | None) -> None:
    if group is None:
        return
    acct = ACCT_CGROUP / "docker" / group.name
    for root in (CPU_CGROUP, ACCT_CGROUP):
        with suppress(OSError):
            (root / "cgroup.procs").write_text(str(os.getpid()))
    for path in {group, acct}:
        for _ in range(20):  # its processes are gone once stopped; rmdir needs it empty
            try:
                if path.exists():
                    path.rmdir()
                break
            except OSError:
                time.sleep(0.5)


class PrivatePostgres:
    """A PostgreSQL server of the bench's own for the local side, like the stack's: the same
    Debian PostgreSQL the stand-in image runs, default settings, its own data directory, and
    started from this process so it shares the local side's cgroup (the host's PostgreSQL
    serves everyone else on this machine and sits outside it)."""

    def __init__(self) -> None:
        self.bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="nw-bench-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/newswire"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True, user="postgres", group="postgres")

    def start(self) -> None:
        data = str(self.dir / "data")
        self._as_postgres(str(self.bindir / "initdb"), "-D", data, "-A", "trust", "-U", "postgres")
        self.proc = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", data, "-p", str(self.port)]
            + ["-k", str(self.dir), "-c", "listen_addresses=127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user="postgres",
            group="postgres",
            start_new_session=True,
        )
        ready = [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]
        wait_for(lambda: subprocess.run(ready, capture_output=True).returncode == 0, 60, 0.5, "pg")
        self._as_postgres(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "newswire"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(60)
        shutil.rmtree(self.dir, ignore_errors=True)


def ms(seconds: float | None) -> str:
    return "?" if seconds is None else f"{1000 * seconds:.0f} ms"


def loadavg() -> str:
    with suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[0]
    return "?"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=200, help="articles per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds on each side")
    parser.add_argument("--batch", type=int, default=20, help="NEWSWIRE_BATCH_SIZE, both sides")
    parser.add_argument("--image", default=None, help="newswire:TAG already built from this tree")
    parser.add_argument("--workdir", default=None)
    parser.add_argument(
        "--host-postgres",
        action="store_true",
        help="local side on a database of the host's PostgreSQL instead of a private server",
    )
    parser.add_argument(
        "--host-cgroup",
        action="store_true",
        help="leave the local processes in the host's cgroup (see join_docker_cgroup)",
    )
    args = parser.parse_args(argv)

    from shared import migrate
    from testkit.databases import create_pg_database, drop_pg_database

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="nw-bench-compose-"))
    tag = args.image.split(":", 1)[1] if args.image else f"bench-{secrets.token_hex(4)}"
    if not args.image:
        print(f"building newswire:{tag} ...", flush=True)
        print(f"  built in {build_image(f'newswire:{tag}'):.0f} s", flush=True)
    env = random_env(tag)
    env["NEWSWIRE_BATCH_SIZE"] = str(args.batch)
    stack = Stack(workdir / "stack", f"nwbench{secrets.token_hex(4)}", env)
    stack.files = [REPO / "docker-compose.yml"]  # production settings, no test override
    server = RedisServer(workdir / "redis", appendfsync="everysec")
    private_pg: PrivatePostgres | None = None
    database_url = ""
    cluster: Cluster | None = None
    sampler = MemorySampler(stack, interval=2.0)
    group: Path | None = None
    try:
        up = stack.up(timeout=400)
        sampler.start()
        group = None if args.host_cgroup else join_docker_cgroup()
        print(
            f"local processes in cgroup {group} (beside the containers, same CPU weight)"
            if group
            else "local processes in the host's cgroup (containers share /docker's weight)",
            flush=True,
        )
        server.start()
        if args.host_postgres:
            database_url = create_pg_database("nw_bench_compose")
        else:
            private_pg = PrivatePostgres()
            private_pg.start()
            database_url = private_pg.url
        print(f"local side: Redis {server.url}, PostgreSQL {database_url}", flush=True)
        migrate.upgrade(database_url)
        cluster = Cluster(
            workdir / "local", server.url, database_url, batch_size=args.batch, log_level="INFO"
        )
        procs = [
            cluster.worker("ingest", 2, wait=False),
            cluster.worker("enrich", 2, wait=False),
            cluster.worker("store", 1, wait=False),
        ]
        for proc in procs:
            cluster.wait_ready(proc)
        cluster.beat()  # the stack's scheduler has its local twin (reconciler, sweeps)
        cores = os.cpu_count() or 1
        print(
            f"compose vs processes: {args.articles} articles per round ({WORDS[0]}-{WORDS[1]} "
            f"words), batch {args.batch}, workers ingest -c 2, enrich -c 2, store -c 1 on both "
            f"sides, {cores} cores; stack healthy {up:.0f} s after up",
            flush=True,
        )
        # Warm-up: every pool child on both sides loads the model once.
        stack_round(stack, 20, f"warm-s-{secrets.token_hex(2)}", 1)
        local_round(cluster, 20, f"warm-l-{secrets.token_hex(2)}", 1, workdir, group)
        rounds: dict[str, list[Round]] = {"containers": [], "processes": []}
        for r in range(args.rounds):
            seed = 100 + r
            sr = stack_round(stack, args.articles, f"bs{r}-{secrets.token_hex(2)}", seed)
            lr = local_round(
                cluster, args.articles, f"bl{r}-{secrets.token_hex(2)}", seed, workdir, group
            )
            rounds["containers"].append(sr)
            rounds["processes"].append(lr)
            print(
                f"  round {r + 1}: containers {sr.rate:.1f}/s ({1000 * sr.workers:.0f} ms worker "
                f"CPU/article, {ms(sr.side)} in all), processes {lr.rate:.1f}/s "
                f"({1000 * lr.workers:.0f} ms worker CPU/article, {ms(lr.side)} in all); "
                f"load average {loadavg()}",
                flush=True,
            )
        c, lp = rounds["containers"], rounds["processes"]
        rate_c = statistics.median(x.rate for x in c)
        rate_p = statistics.median(x.rate for x in lp)
        ratio = rate_c / rate_p
        paired = statistics.median(a.rate / b.rate for a, b in zip(c, lp, strict=True))
        print(
            f"median throughput: containers {rate_c:.1f} articles/s, processes {rate_p:.1f} "
            f"articles/s -> containers at {100 * ratio:.0f}% "
            f"({'within' if ratio >= 0.9 else 'MORE THAN'} 10% of the processes); median of "
            f"the rounds' own ratios (each stack round against the local round after it) "
            f"{100 * paired:.0f}%"
        )
        work_c = statistics.median(x.workers for x in c)
        work_p = statistics.median(x.workers for x in lp)
        print(
            f"median worker CPU per article: containers {1000 * work_c:.0f} ms "
            f"(health checks included), processes {1000 * work_p:.0f} ms -> "
            f"containers x{work_c / work_p:.2f}"
        )
        if all(x.side is not None for x in c + lp):
            side_c = statistics.median(x.side or 0.0 for x in c)
            side_p = statistics.median(x.side or 0.0 for x in lp)
            print(
                f"median CPU per article of everything each side ran: containers "
                f"{1000 * side_c:.0f} ms (every container and the engine's own processes), "
                f"processes {1000 * side_p:.0f} ms (the local cgroup: workers, beat, "
                f"PostgreSQL, redis-server, this bench's polling) -> containers "
                f"x{side_c / side_p:.2f}"
            )
        if group is None:
            print(
                "  (throughput on a machine busy with other work: with cgroup v1 every "
                "container shares one CPU weight under /docker against each host process, so a "
                "loaded host starves the stack; CPU per article is the scheduling-independent "
                "cost)"
            )
        sampler.halt()
        print(f"peak memory per service (docker stats): {sampler.summary()}")
    finally:
        sampler.halt()
        if cluster is not None:
            cluster.stop()
        server.stop()
        stack.down(volumes=True)
        if private_pg is not None:
            private_pg.stop()
        elif database_url:
            with suppress(Exception):
                drop_pg_database(database_url)
        leave_cgroup(group)  # last: rmdir needs every process of the local side gone
        if not args.image:
            subprocess.run(["docker", "rmi", f"newswire:{tag}"], capture_output=True, check=False)


if __name__ == "__main__":
    _started = time.monotonic()
    main()
    print(f"\n(bench took {time.monotonic() - _started:.0f} s)")
