"""The compose topology as local processes against the real Redis and PostgreSQL.

Every service of docker-compose.yml that runs our image is started from its
``command:`` with the compose environment (hosts mapped to 127.0.0.1); articles go
in through the CLI; every one must come out stored exactly once, tagged.

This is the fast check of the topology (commands, environment, wiring), not the proof of
the deployment: it runs as root, without the image, its user, its read-only file system or
its volumes. The deployment itself is tested on a real Docker engine in tests/deploy/.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from shared.db import normalize_url
from testkit.corpus import sample_titles
from testkit.processes import (
    ROOT,
    free_port,
    load_compose,
    read_env_file,
    start_service,
    wait_for,
)

pytestmark = pytest.mark.e2e

APP_SERVICES = ["ingest-worker", "enrich-worker", "store-worker", "scheduler", "api", "flower"]


def json_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def test_compose_services_as_processes(fresh_pg_url: str, redis_url: str, tmp_path: Path):
    env_file = read_env_file(ROOT / ".env.example")
    # Real secrets for this run: production settings refuse the example placeholders.
    env_file.update(
        NEWSWIRE_API_TOKEN=secrets.token_hex(16),
        NEWSWIRE_FLOWER_USER="operator",
        NEWSWIRE_FLOWER_PASSWORD=secrets.token_hex(8),
    )
    compose = load_compose(env_file)
    assert set(APP_SERVICES) <= set(compose["services"]), "compose lost a service"
    overrides = {
        "NEWSWIRE_BROKER_URL": redis_url,
        "NEWSWIRE_DATABASE_URL": fresh_pg_url,
        "NEWSWIRE_WORKER_CONCURRENCY": "1",
    }
    api_port, flower_port = free_port(), free_port()
    replace = {
        "8000": str(api_port),
        "--port=5555": f"--port={flower_port}",
        "/tmp/celerybeat-schedule": str(tmp_path / "beat-schedule"),
        "2": "1",  # --concurrency 2 -> 1: two cores are shared with the test itself
    }

    # The one-shot migrate service first, as compose's service_completed_successfully.
    migrate = start_service(compose, "migrate", overrides, tmp_path)
    assert migrate.popen.wait(120) == 0, migrate.log.read_text()

    procs = {
        name: start_service(compose, name, overrides, tmp_path, replace) for name in APP_SERVICES
    }
    try:
        for name, proc in procs.items():
            assert proc.alive(), f"{name} died at start:\n{proc.log.read_text()[-3000:]}"

        # Flower refuses requests without credentials.
        flower = f"http://127.0.0.1:{flower_port}/"

        def flower_up() -> bool:
            try:
                return httpx.get(flower, timeout=2).status_code == 401
            except httpx.HTTPError:
                return False

        wait_for(flower_up, 60, what="flower")
        auth = (env_file["NEWSWIRE_FLOWER_USER"], env_file["NEWSWIRE_FLOWER_PASSWORD"])
        assert httpx.get(flower, timeout=5, auth=auth).status_code == 200
        assert httpx.get(flower, timeout=5, auth=("operator", "wrong")).status_code == 401

        # Articles in through the CLI, as an operator would with compose exec.
        cli_env = {k: v for k, v in overrides.items()}
        cli_env["NEWSWIRE_LOG_FORMAT"] = "json"

        def ingest_samples() -> None:
            run = subprocess.run(
                [sys.executable, "-m", "services.entrypoints.cli", "ingest", "samples/"],
                cwd=ROOT,
                env={**_base_env(), **cli_env},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, run.stderr

        ingest_samples()
        titles = sample_titles()

        engine = sa.create_engine(normalize_url(fresh_pg_url))

        def stored() -> int:
            with engine.connect() as conn:
                return conn.scalar(sa.text("select count(*) from articles")) >= len(titles)

        wait_for(stored, 240, interval=1, what="all sample articles stored")

        # The same files again: duplicates, still one row each.
        ingest_samples()

        def records_settled() -> bool:
            with engine.connect() as conn:
                return (
                    conn.scalar(
                        sa.text("select count(*) from ingest_records where status = 'received'")
                    )
                    == 0
                )

        wait_for(records_settled, 120, interval=1, what="no article left in 'received'")

        with engine.connect() as conn:
            rows = conn.execute(sa.text("select id, title, language from articles")).all()
            assert sorted(r.title for r in rows) == sorted(titles)  # exactly once each
            per_article = dict(
                conn.execute(
                    sa.text("select article_id, count(*) from article_entities group by 1")
                ).all()
            )
            countries = defaultdict(set)
            for aid, code in conn.execute(
                sa.text("select article_id, code from article_countries")
            ):
                countries[aid].add(code)
        english = [r for r in rows if r.language == "en"]
        assert len(english) >= len(titles) - 1
        for r in english:
            assert per_article.get(r.id, 0) > 0, f"no entities for {r.title}"
            assert countries[r.id], f"no countries for {r.title}"
        by_title = {r.title: r.id for r in rows}
        baghdad = by_title["US and Iraq discuss security as militia warns of escalation"]
        assert {"US", "IQ"} <= countries[baghdad]

        # The API serves what was stored.
        health = httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=10)
        assert health.status_code == 200, health.text
        # Full text: the store worker builds the search documents after each batch.
        listing = httpx.get(
            f"http://127.0.0.1:{api_port}/articles", params={"q": "militias"}, timeout=10
        )
        assert listing.status_code == 200, listing.text
        assert [a["id"] for a in listing.json()["articles"]] == [baghdad]
        with engine.connect() as conn:
            assert conn.scalar(sa.text("select count(*) from search_pending")) == 0
            assert conn.scalar(sa.text("select count(*) from article_search")) == len(titles)

        # One trace_id and article_id on every stage's log line of an article.
        events: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for name in ("ingest-worker", "enrich-worker", "store-worker"):
            for line in json_lines(procs[name].log):
                if line.get("event") in {"article_received", "article_enriched", "article_stored"}:
                    events[line["article_id"]][line["event"]].add(line["trace_id"])
        for r in rows:
            stages = events[r.id]
            assert set(stages) == {"article_received", "article_enriched", "article_stored"}, (
                r.title,
                dict(stages),
            )
            assert len(set().union(*stages.values())) == 1, stages
    finally:
        codes = {}
        for name, proc in procs.items():
            codes[name] = proc.stop(timeout=60)
    # Workers and the API shut down cleanly on SIGTERM (warm shutdown); uvicorn
    # re-raises the signal after its graceful shutdown, so -SIGTERM is clean there.
    api_log = procs["api"].log.read_text()
    assert codes["api"] in (0, -15), api_log[-2000:]
    assert "Application shutdown complete" in api_log, api_log[-2000:]
    for name in ("ingest-worker", "enrich-worker", "store-worker"):
        assert codes[name] == 0, (
            f"{name} exited {codes[name]}:\n{procs[name].log.read_text()[-2000:]}"
        )


def _base_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env
