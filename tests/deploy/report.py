"""The deployment tests' summary: figures printed at the end of the run, section
"deployment" (``pytest_terminal_summary`` in ``tests/deploy/conftest.py``)."""

from __future__ import annotations

SUMMARY: list[str] = []


def report(line: str) -> None:
    """Keep a summary line for the end of the session (and show it with -s)."""
    SUMMARY.append(line)
    print(line)
