"""The fault suite's summary: one ``FAULT ...`` line per test, printed at the end of the run
(``pytest_terminal_summary`` in ``tests/faults/conftest.py``)."""

from __future__ import annotations

SUMMARY: list[str] = []


def report(line: str) -> None:
    """Keep a summary line for the end of the session (and show it with -s)."""
    SUMMARY.append(line)
    print(line)
