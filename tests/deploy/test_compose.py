"""The deployment as users run it: docker-compose.yml on a real Docker engine.

The image is built from the repository's Dockerfile; the stack is the repository's
docker-compose.yml, unchanged, with a .env of random secrets and the test-only override
``compose.test.yml`` (shorter delivery intervals). One stack serves the whole module, in
order: health, ingest (``docker compose exec`` and ``POST /articles``), faults counted like
tests/faults (N in, N stored, 0 duplicates, 0 lost), down/up keeping the volumes, an upgrade
with one more migration, start-up errors. See the README, "How the deployment is tested".
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from testkit.corpus import make_article, make_corpus, sample_titles
from testkit.processes import wait_for
from testkit.stack import APP_SERVICES, Stack, must, run
from tests.deploy.report import report

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(1500)]

FAULT_N = int(os.environ.get("NEWSWIRE_DEPLOY_FAULT_N", "300"))
DRAIN_TIMEOUT = 420
POSTGRES_DOWN_SECONDS = 30
WRITE_ERRORS = r"Read-only file system|Permission denied|unable to open database file"


def record(x: dict) -> dict:
    return {k: x[k] for k in ("title", "body", "url", "published", "source")}


def article_files(tag: str, per_kind: int = 4) -> tuple[dict[str, bytes], set[str]]:
    """A directory of plain-text, JSON Lines and HTML articles with titles ``<tag> #i: ...``."""
    rng = random.Random(tag)
    files: dict[str, bytes] = {}
    titles: set[str] = set()
    lines = []
    for i in range(per_kind * 3):
        a = make_article(rng, tag, i, words=(120, 200))
        titles.add(a["title"])
        kind = i % 3
        if kind == 0:
            text = f"{a['published'][:10]}\n\n{a['title']}\n\n{a['body']}\n"
            files[f"article-{i}.txt"] = text.encode()
        elif kind == 1:
            lines.append(json.dumps(record(a)))
        else:
            paras = "".join(f"<p>{p}</p>\n" for p in a["body"].split("\n\n"))
            html = (
                f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f"<title>{a['title']}</title>"
                f'<meta property="article:published_time" content="{a["published"]}">'
                f'<link rel="canonical" href="{a["url"]}"></head>\n'
                f"<body><article><h1>{a['title']}</h1>\n{paras}</article></body></html>\n"
            )
            files[f"article-{i}.html"] = html.encode()
    files["articles.jsonl"] = ("\n".join(lines) + "\n").encode()
    return files, titles


def tagged(stack: Stack, titles: set[str]) -> list[tuple[str, str, int, int]]:
    """(id, title, entities, countries) of the stored articles with these titles."""
    quoted = ",".join("'" + t.replace("'", "''") + "'" for t in sorted(titles))
    rows = stack.psql(
        "SELECT a.id, a.title,"
        " (SELECT count(*) FROM article_entities e WHERE e.article_id = a.id),"
        " (SELECT count(*) FROM article_countries c WHERE c.article_id = a.id)"
        f" FROM articles a WHERE a.title IN ({quoted})"
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows]


def wait_stored(stack: Stack, titles: set[str], what: str, timeout: float = 240) -> None:
    quoted = ",".join("'" + t.replace("'", "''") + "'" for t in sorted(titles))
    sql = f"SELECT count(DISTINCT title) FROM articles WHERE title IN ({quoted})"
    wait_for(lambda: stack.scalar(sql) >= len(titles), timeout, 2.0, what)


# ---------------------------------------------------------------- health


def test_every_service_healthy_read_only_non_root(stack: Stack, image_tag: str) -> None:
    states = stack.states()
    assert not stack.not_ready(), stack.not_ready()
    for name in APP_SERVICES:
        c = json.loads(must(run(["docker", "inspect", states[name].container])).stdout)[0]
        assert c["Config"]["User"] == "10001:10001", (name, c["Config"]["User"])
        assert c["HostConfig"]["ReadonlyRootfs"] is True, name
        assert "/tmp" in (c["HostConfig"].get("Tmpfs") or {}), name
    # The service user can read everything the build made for run time, and write nowhere
    # but /tmp.
    probe = (
        "import pathlib,sys,sqlite3\n"
        "from services.enrich import citycache\n"
        "p = citycache.cache_path(); print(p)\n"
        "sqlite3.connect(f'file:{p}?mode=ro&immutable=1', uri=True).execute("
        "'select count(*) from cities').fetchone()\n"
        "for d in ('/app', '/opt/venv', '/opt/newswire-cache'):\n"
        "    try:\n"
        "        pathlib.Path(d, 'probe').write_text('x'); sys.exit(d + ' is writable')\n"
        "    except OSError:\n"
        "        pass\n"
        "pathlib.Path('/tmp/probe').write_text('x')\n"
    )
    out = stack.exec("enrich-worker", "python", "-c", probe)
    assert out.returncode == 0, out.stdout + out.stderr
    aof = stack.exec(
        "redis", "sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli config get appendonly'
    )
    assert aof.stdout.split() == ["appendonly", "yes"], aof.stdout + aof.stderr
    # The API refuses reads without the read token.
    assert stack.api("GET", "/articles", token=None).status_code == 401


# ---------------------------------------------------------------- ingest


def test_ingest_through_exec_and_http(stack: Stack) -> None:
    tag = f"files-{secrets.token_hex(3)}"
    samples = sample_titles()
    # 1. The bundled samples, from inside the api container (they are in the image).
    out = stack.exec("api", "newswire", "ingest", "samples/")
    assert out.returncode == 0, out.stdout + out.stderr
    # 2. A directory of plain-text, JSON Lines and HTML files copied in.
    files, file_titles = article_files(tag)
    stack.put_files("api", f"/tmp/{tag}", files)
    out = stack.exec("api", "newswire", "ingest", f"/tmp/{tag}")
    assert out.returncode == 0, out.stdout + out.stderr
    # 3. POST /articles with the write token (and refused with the read token).
    rng = random.Random(tag + "http")
    posted = [make_article(rng, f"{tag}-http", i, words=(80, 150)) for i in range(5)]
    http_titles = {a["title"] for a in posted}
    body = {"articles": [record(a) for a in posted]}
    assert stack.api("POST", "/articles", token="read", json=body).status_code == 401
    resp = stack.api("POST", "/articles", token="write", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["summary"] == {"queued": 5}, resp.json()

    everything = samples | file_titles | http_titles
    wait_stored(stack, everything, f"{len(everything)} articles stored")
    time.sleep(3)  # late redeliveries must not add rows
    rows = tagged(stack, everything)
    counts: dict[str, int] = {}
    for _, title, _, _ in rows:
        counts[title] = counts.get(title, 0) + 1
    assert set(counts) == everything, everything - set(counts)
    assert all(n == 1 for n in counts.values()), {t: n for t, n in counts.items() if n > 1}
    english = [r for r in rows if r[1] in file_titles | http_titles] + [
        r for r in rows if r[1] in samples and not r[1].startswith("Выборы")
    ]
    for _aid, title, entities, countries in english:
        assert entities > 0 and countries > 0, (title, entities, countries)
    assert stack.dead_letters() == [], stack.dead_letters()
    # Read back through the API with the read token.
    for aid, title, _, _ in rows:
        got = stack.api("GET", f"/articles/{aid}")
        assert got.status_code == 200, got.text
        doc = got.json()
        assert doc["title"] == title
        if title in file_titles | http_titles:
            assert doc["entities"] and doc["countries"], doc
    listing = stack.api("GET", "/articles", params={"limit": 100})
    assert listing.status_code == 200, listing.text
    assert everything <= {a["title"] for a in listing.json()["articles"]}
    # Nothing tried to write where the service user may not (the lazy caches of the image).
    logs = stack.compose("logs", "--no-color", *APP_SERVICES).stdout
    denied = [ln for ln in logs.splitlines() if re.search(WRITE_ERRORS, ln)]
    assert not denied, "\n".join(denied[:20])
    report(
        f"DEPLOY ingest: samples={len(samples)} files={len(file_titles)} (txt, jsonl, html) "
        f"http={len(http_titles)} stored_once={len(counts)} dead_letters=0"
    )


# ---------------------------------------------------------------- faults


def flow(stack: Stack, fault: str, n: int, inject: Callable[[str], str]) -> None:
    """N articles in through ``docker compose exec api newswire ingest``, a fault injected
    while they flow, then every one counted in PostgreSQL."""
    tag = f"{fault}-{secrets.token_hex(3)}"
    # A seed of its own: the same seed would make the same bodies, which the ingest step
    # rightly drops as duplicates of an earlier run in the same database.
    items = make_corpus(n, tag, seed=int.from_bytes(tag.encode(), "big") % 2**32)
    titles = {x["title"] for x in items}
    data = "".join(json.dumps(record(x)) + "\n" for x in items).encode()
    stack.put_files("api", f"/tmp/{tag}", {"articles.jsonl": data})
    resends = stack.resends()
    t0 = time.monotonic()
    out = stack.exec("api", "newswire", "ingest", f"/tmp/{tag}")
    assert out.returncode == 0, out.stdout + out.stderr
    detail = inject(tag)
    wait_for(lambda: stack.stored_count(tag) >= n, DRAIN_TIMEOUT, 2.0, f"{n} of {tag} stored")
    drained = time.monotonic() - t0
    time.sleep(5)  # late redeliveries land now; they must not add rows
    stack.wait_database()
    c = stack.census(tag, titles)
    dead = stack.dead_letters()
    report(
        f"FAULT {fault} N={c['N']} stored={c['stored']} duplicates={c['duplicates']} "
        f"lost={c['lost']} rows={c['rows']} reconciler_resends={stack.resends() - resends} "
        f"dead_letters={sum(int(x[1]) for x in dead)} drained_in={drained:.0f}s {detail}"
    )
    assert (c["stored"], c["duplicates"], c["lost"], c["rows"]) == (n, 0, 0, n), c
    assert dead == [], dead
    oom = [s.service for s in stack.states().values() if s.oom_killed]
    assert not oom, f"killed by their mem_limit: {oom}"
    stack.wait_healthy(timeout=600)


def flowing(stack: Stack, tag: str, at_least: int = 5) -> int:
    """Wait until the run is moving (some stored), return how many are stored."""
    return wait_for(
        lambda: stack.stored_count(tag) >= at_least and stack.stored_count(tag),
        240,
        0.5,
        f"{tag} flowing",
    )


def test_fault_enrich_worker_killed(stack: Stack) -> None:
    def inject(tag: str) -> str:
        before = stack.states()["enrich-worker"]
        at1 = flowing(stack, tag)
        # 1. A crash: SIGKILL to the container's main process (what the OOM killer does).
        #    The restart policy (unless-stopped) brings it back.
        os.kill(before.pid, signal.SIGKILL)
        wait_for(
            lambda: (
                stack.states()["enrich-worker"].restarts > before.restarts
                and stack.states()["enrich-worker"].status == "running"
            ),
            120,
            0.5,
            "enrich-worker restarted by its restart policy",
        )
        at2 = flowing(stack, tag, at1 + 10)
        # 2. `docker compose kill -s KILL`: Docker counts a kill as a manual stop, so the
        #    restart policy does not apply; an operator starts it again.
        stack.compose("kill", "-s", "KILL", "enrich-worker")
        time.sleep(10)
        came_back = stack.states()["enrich-worker"].status == "running"
        if not came_back:
            stack.compose("start", "enrich-worker")
        return (
            f"kills=2 (host SIGKILL at stored={at1}: restarted by policy; "
            f"compose kill -s KILL at stored={at2}: "
            f"{'restarted by policy' if came_back else 'stayed down, docker compose start'})"
        )

    flow(stack, "enrich-worker-sigkill", FAULT_N, inject)


def test_fault_redis_restarted(stack: Stack) -> None:
    def inject(tag: str) -> str:
        at = flowing(stack, tag)
        t0 = time.monotonic()
        stack.compose("restart", "redis")
        return f"restarts=1 at stored={at} restart_took={time.monotonic() - t0:.0f}s"

    flow(stack, "redis-restart", FAULT_N, inject)


def test_fault_postgres_stopped(stack: Stack) -> None:
    def inject(tag: str) -> str:
        at = flowing(stack, tag)
        stack.compose("stop", "postgres")
        time.sleep(POSTGRES_DOWN_SECONDS)
        stack.compose("start", "postgres")
        stack.wait_database()
        return f"stops=1 at stored={at} down_for={POSTGRES_DOWN_SECONDS}s"

    flow(stack, "postgres-stop", FAULT_N, inject)


# ---------------------------------------------------------------- volumes, upgrade


TABLES = ("articles", "article_entities", "article_countries", "ingest_records", "entities")


def counts(stack: Stack) -> dict[str, int]:
    return {t: stack.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}


def test_down_then_up_keeps_everything(stack: Stack) -> None:
    stack.quiesce()
    before = counts(stack)
    assert before["articles"] > 0
    stack.compose("down")  # no -v: the named volumes stay
    seconds = stack.up()
    after = counts(stack)
    assert after == before
    listing = stack.api("GET", "/articles", params={"limit": 5})
    assert listing.status_code == 200 and listing.json()["articles"], listing.text
    report(f"DEPLOY down, up: all healthy again in {seconds:.1f}s; kept {after}")


MIGRATION = '''"""deploy test: one more migration (generated by tests/deploy, never committed)

Revision ID: {rev}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deploy_upgrade_probe",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("articles_then", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO deploy_upgrade_probe (id, articles_then) "
        "SELECT 1, count(*) FROM articles"
    )


def downgrade() -> None:
    op.drop_table("deploy_upgrade_probe")
'''


def test_upgrade_with_one_more_migration(stack: Stack, tmp_path: Path) -> None:
    old_tag = stack.env["NEWSWIRE_IMAGE_TAG"]
    image = f"newswire:{old_tag}"
    where = (
        "from alembic.script import ScriptDirectory\n"
        "from shared import migrate\n"
        "print(migrate.MIGRATIONS / 'versions')\n"
        "print(' '.join(sorted(ScriptDirectory(str(migrate.MIGRATIONS)).get_heads())))\n"
    )
    out = must(run(["docker", "run", "--rm", image, "python", "-c", where]))
    versions, heads = out.stdout.split("\n")[:2]
    down = heads.split()
    rev = "deploy" + secrets.token_hex(3)
    name = f"{rev}_deploy_probe.py"
    (tmp_path / name).write_text(
        MIGRATION.format(rev=rev, down=down[0] if len(down) == 1 else tuple(down))
    )
    (tmp_path / "Dockerfile").write_text(f"FROM {image}\nCOPY {name} {versions}/{name}\n")
    new_tag = old_tag + "-upgrade"
    must(run(["docker", "build", "-q", "-t", f"newswire:{new_tag}", str(tmp_path)]))
    stack.extra_images.append(f"newswire:{new_tag}")

    stack.quiesce()
    before = counts(stack)
    old_version = {r[0] for r in stack.psql("SELECT version_num FROM alembic_version")}
    stack.env["NEWSWIRE_IMAGE_TAG"] = new_tag
    stack.write_env()
    seconds = stack.up()  # compose recreates every app container; migrate runs first
    assert {r[0] for r in stack.psql("SELECT version_num FROM alembic_version")} == {rev}
    assert stack.scalar("SELECT articles_then FROM deploy_upgrade_probe") == before["articles"]
    assert counts(stack) == before
    for name_, s in stack.states().items():
        if name_ in APP_SERVICES or name_ == "migrate":
            image_of = must(run(["docker", "inspect", "-f", "{{.Config.Image}}", s.container]))
            assert image_of.stdout.strip() == f"newswire:{new_tag}", name_
    # The upgraded stack still works end to end.
    a = make_article(random.Random(rev), f"upgrade-{rev}", 0, words=(80, 120))
    resp = stack.api("POST", "/articles", token="write", json=record(a))
    assert resp.status_code == 200 and resp.json()["summary"] == {"queued": 1}, resp.text
    wait_stored(stack, {a["title"]}, "an article after the upgrade")
    report(
        f"DEPLOY upgrade: {sorted(old_version)} -> {rev} applied by migrate on up; "
        f"rows kept {before['articles']} articles; healthy in {seconds:.1f}s"
    )


# ---------------------------------------------------------------- start-up errors


def one_line_error(proc: subprocess.CompletedProcess[str], variable: str) -> str:
    text = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0, text
    assert "Traceback" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and variable in lines[0], text
    return lines[0]


COMMANDS = {
    "worker": ["newswire", "worker", "enrich", "--concurrency", "1"],
    "migrate": ["newswire", "db", "upgrade"],
    "api": ["uvicorn", "services.entrypoints.api:app", "--host", "0.0.0.0"],
    "scheduler": ["newswire", "scheduler", "--schedule-file", "/tmp/s"],
    "flower": ["newswire", "flower", "--port=5555"],
}


def database_url(stack: Stack) -> str:
    return f"postgresql://newswire:{stack.env['POSTGRES_PASSWORD']}@postgres:5432/newswire"


def test_startup_errors_are_one_line(stack: Stack) -> None:
    image = f"newswire:{stack.env['NEWSWIRE_IMAGE_TAG']}"
    base = ["docker", "run", "--rm", "--read-only", "--tmpfs", "/tmp"]
    env = [
        "-e", "NEWSWIRE_ENV=production",
        "-e", "NEWSWIRE_API_TOKEN=change-me-api-write-token",
        "-e", "NEWSWIRE_BROKER_URL=redis://:x1y2z3@redis:6379/0",
        "-e", "NEWSWIRE_DATABASE_URL=postgresql://newswire:x1y2z3@postgres:5432/newswire",
        "-e", "NEWSWIRE_FLOWER_USER=ops", "-e", "NEWSWIRE_FLOWER_PASSWORD=x1y2z3x1y2z3",
    ]  # fmt: skip
    for name, cmd in COMMANDS.items():
        line = one_line_error(run([*base, *env, image, *cmd], timeout=120), "NEWSWIRE_API_TOKEN")
        assert "real secret" in line, (name, line)
    # A wrong database password and an unreachable broker, on the stack's own network.
    net = ["--network", f"{stack.project}_default"]
    wrong_db = [*env[:2], "-e", "NEWSWIRE_API_TOKEN=" + stack.env["NEWSWIRE_API_TOKEN"]]
    wrong_db += ["-e", "NEWSWIRE_DATABASE_URL=postgresql://newswire:wrong@postgres:5432/newswire"]
    proc = run([*base, *net, *wrong_db, image, *COMMANDS["migrate"]], timeout=180)
    line = one_line_error(proc, "NEWSWIRE_DATABASE_URL")
    no_broker = [*wrong_db[:4], "-e", "NEWSWIRE_BROKER_URL=redis://:pw@no-such-host:6379/0"]
    no_broker += ["-e", "NEWSWIRE_DATABASE_URL=" + database_url(stack)]
    for name in ("worker", "scheduler"):
        proc = run([*base, *net, *no_broker, image, *COMMANDS[name]], timeout=180)
        line2 = one_line_error(proc, "NEWSWIRE_BROKER_URL")
    report(f"DEPLOY start-up errors: {line} | {line2}")
