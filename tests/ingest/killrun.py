"""Kill `newswire ingest` (embedded) at a chosen point, run it again, count what is stored.

A kill point is a signal and a trigger watched from outside, in the database the
run writes: ``("records", n)`` fires once n ingest records exist (recorded, maybe
not stored), ``("stored", n)`` once n are stored, ``("after", s)`` s seconds after
the start (imports, model loading, reading files). Used by
tests/ingest/test_crash_safety.py; the figures it prints are in the closing note.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from shared.db import normalize_url
from testkit.processes import ROOT

NEWSWIRE = [sys.executable, "-c", "from services.entrypoints.cli import main; main()"]
WORDS = (
    "harbour council river bridge market school budget teacher farmer station winter "
    "election minister court village factory railway museum hospital harvest storm "
    "festival library airport ferry mayor union strike tunnel forest mountain coast "
    "police report plan vote season road water energy price grain wool copper ship "
    "island valley garden tower castle theatre orchestra painter novel student"
).split()


def write_corpus(root: Path, seed: int = 7) -> int:
    """JSON Lines records (with and without URL), text articles and HTML pages; returns N."""
    rng = random.Random(seed)

    def paragraph() -> str:
        sentences = []
        for _ in range(4):
            words = [rng.choice(WORDS) for _ in range(rng.randint(9, 14))]
            sentences.append("The " + " ".join(words) + ".")
        return " ".join(sentences)

    root.mkdir(parents=True, exist_ok=True)
    n = 0
    lines = []
    for i in range(16):
        rec = {"title": f"Record story {i}", "text": "\n\n".join(paragraph() for _ in range(3))}
        if i % 2 == 0:
            rec["url"] = f"https://www.records.example/story/{i}/?utm_source=feed"
        lines.append(json.dumps(rec))
        n += 1
    (root / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for i in range(7):
        text = f"Text story {i}\n\n" + "\n\n".join(paragraph() for _ in range(3)) + "\n"
        (root / f"text-{i}.txt").write_text(text, encoding="utf-8")
        n += 1
    for i in range(7):
        paras = "".join(f"<p>{paragraph()}</p>" for _ in range(4))
        html = (
            f"<html lang='en'><head><title>Page story {i}</title>"
            f"<link rel='canonical' href='https://pages.example/p/{i}'></head>"
            f"<body><article><h1>Page story {i}</h1>{paras}</article></body></html>"
        )
        (root / f"page-{i}.html").write_text(html, encoding="utf-8")
        n += 1
    return n


@dataclass
class State:
    records: int = 0
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    articles: int = 0
    distinct: int = 0

    def __str__(self) -> str:
        return (
            f"{self.records} records ({self.received} received, {self.stored} stored, "
            f"{self.duplicates} duplicate), {self.articles} articles"
        )


def read_state(database_url: str) -> State:
    """Counts in the run's database; zeros while the schema is not there yet."""
    queries = {
        "records": "SELECT count(*) FROM ingest_records",
        "received": "SELECT count(*) FROM ingest_records WHERE status = 'received'",
        "stored": "SELECT count(*) FROM ingest_records WHERE status = 'stored'",
        "duplicates": "SELECT count(*) FROM ingest_records WHERE status = 'duplicate'",
        "articles": "SELECT count(*) FROM articles",
        "distinct": "SELECT count(DISTINCT id) FROM articles",
    }
    out = State()
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return out
        try:
            for key, sql in queries.items():
                setattr(out, key, conn.execute(sql).fetchone()[0])
        except sqlite3.Error:
            return State()
        finally:
            conn.close()
        return out
    engine = sa.create_engine(normalize_url(database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            for key, sql in queries.items():
                setattr(out, key, conn.execute(sa.text(sql)).scalar_one())
    except sa.exc.DBAPIError:
        return State()
    finally:
        engine.dispose()
    return out


def env_for(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env.update(
        NEWSWIRE_DATABASE_URL=database_url,
        NEWSWIRE_BATCH_SIZE="5",
        NEWSWIRE_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    at_kill: State | None = None
    fired: bool = False


def run(paths: list[str], database_url: str, timeout: float = 240) -> Run:
    proc = subprocess.run(
        [*NEWSWIRE, "ingest", *paths],
        env=env_for(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def run_and_kill(
    paths: list[str],
    database_url: str,
    sig: int,
    trigger: tuple[str, float],
    timeout: float = 240,
) -> Run:
    """Start the run, send ``sig`` when the trigger fires, wait for the process to end."""
    proc = subprocess.Popen(
        [*NEWSWIRE, "ingest", *paths],
        env=env_for(database_url),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    kind, value = trigger
    started = time.monotonic()
    at_kill: State | None = None
    fired = False
    while proc.poll() is None and time.monotonic() - started < timeout:
        if kind == "after":
            hit = time.monotonic() - started >= value
        else:
            state = read_state(database_url)
            hit = getattr(state, kind) >= value
        if hit:
            proc.send_signal(sig)
            fired = True
            at_kill = read_state(database_url)
            break
        time.sleep(0.01)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return Run(proc.returncode, out, err, at_kill, fired)


SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
