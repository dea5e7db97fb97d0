"""Console tests: the ``browser`` marker, and why browser tests skip when they do."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots (gitignored)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives Debian's chromium headless (tests/console/browser-deps.sh installs it)",
    )


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return (
            f"{CHROMIUM} is missing: run tests/console/browser-deps.sh "
            "(or `make browser-deps`) to install Debian's chromium"
        )
    return None
