"""An interrupted embedded `newswire ingest` loses nothing and stores nothing twice.

Each case runs the real command in a subprocess on a corpus of N articles (JSON
Lines with and without URLs, text files, HTML pages; 5 per batch), sends a signal
at one point, then runs the same command again and counts: every article stored
exactly once, no record left "received", none counted as a duplicate of itself.
Before the fix the re-run reported the interrupted batch as duplicates and never
stored it. Run with ``-s`` to see the state at each kill.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.ingest import killrun

# (signal, trigger, database): 24 kill points.
POINTS = [
    ("SIGKILL", ("after", 0.4), "sqlite"),  # importing
    ("SIGKILL", ("records", 1), "sqlite"),  # first batch recorded, not stored
    ("SIGKILL", ("records", 10), "sqlite"),
    ("SIGKILL", ("records", 20), "sqlite"),
    ("SIGKILL", ("records", 30), "sqlite"),  # the last batch recorded
    ("SIGKILL", ("stored", 5), "sqlite"),  # right after a store commit
    ("SIGKILL", ("stored", 15), "sqlite"),
    ("SIGKILL", ("stored", 25), "sqlite"),
    ("SIGKILL", ("records", 15), "postgresql"),
    ("SIGKILL", ("stored", 10), "postgresql"),
    ("SIGKILL", ("stored", 20), "postgresql"),
    ("SIGINT", ("after", 1.5), "sqlite"),  # loading, reading files
    ("SIGINT", ("records", 5), "sqlite"),
    ("SIGINT", ("records", 15), "sqlite"),
    ("SIGINT", ("records", 25), "sqlite"),
    ("SIGINT", ("stored", 10), "sqlite"),
    ("SIGINT", ("stored", 20), "sqlite"),
    ("SIGINT", ("records", 10), "postgresql"),
    ("SIGTERM", ("after", 0.3), "sqlite"),
    ("SIGTERM", ("records", 10), "sqlite"),
    ("SIGTERM", ("records", 25), "sqlite"),
    ("SIGTERM", ("stored", 5), "sqlite"),
    ("SIGTERM", ("stored", 15), "sqlite"),
    ("SIGTERM", ("stored", 25), "postgresql"),
]
GRACEFUL = {"SIGINT": 130, "SIGTERM": 143}
BATCH = 5  # NEWSWIRE_BATCH_SIZE of the runs (killrun.env_for)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("kill") / "in"
    return root, killrun.write_corpus(root)


def _database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    from shared import migrate

    if kind == "postgresql":
        return str(request.getfixturevalue("fresh_pg_url"))
    url = f"sqlite:///{tmp_path / 'newswire.db'}"
    migrate.upgrade(url)
    return url


@pytest.mark.parametrize(
    ("sig", "trigger", "kind"),
    POINTS,
    ids=[f"{s}-{t[0]}{t[1]}-{k}" for s, t, k in POINTS],
)
def test_kill_and_rerun_stores_everything_once(
    sig: str,
    trigger: tuple[str, float],
    kind: str,
    corpus: tuple[Path, int],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    root, n = corpus
    url = _database(kind, tmp_path, request)
    first = killrun.run_and_kill([str(root)], url, killrun.SIGNALS[sig], trigger)
    assert first.fired, f"the run ended before the kill point: {first.stdout}{first.stderr}"
    after = killrun.read_state(url)
    if sig in GRACEFUL and trigger[0] != "after":
        # The handler was in place: the batch in hand was finished, then a partial
        # summary and what to run.
        assert first.code == GRACEFUL[sig], first.stderr
        assert "run the same command again" in first.stderr
        assert "summary:" in first.stdout
        assert after.received == 0, after  # nothing left half-done
        # It stopped after the batch in hand (recorded at the kill, or the next one).
        assert first.at_kill is not None
        assert after.stored <= first.at_kill.records + BATCH, (first.at_kill, after)
    elif sig == "SIGKILL":
        assert first.code == -signal.SIGKILL
    second = killrun.run([str(root)], url)
    final = killrun.read_state(url)
    print(
        f"\n{sig:7} at {trigger[0]}>={trigger[1]:<4} ({kind}): at kill {first.at_kill}; "
        f"after the run {after}; after the re-run {final}; exit codes {first.code}, "
        f"{second.code}"
    )
    assert second.code == 0, second.stdout + second.stderr
    assert f"summary: {n} read" in second.stdout
    assert final.articles == n and final.distinct == n, final
    assert final.stored == n and final.received == 0 and final.duplicates == 0, final
    stored_now = n - after.stored
    if stored_now:
        assert f"{stored_now} stored" in second.stdout, second.stdout
    if after.stored:
        assert f"{after.stored} duplicate" in second.stdout, second.stdout
