"""Console tests: the ``browser`` marker (chromium and screenshots: testkit/browser.py)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives Debian's chromium headless (tests/console/browser-deps.sh installs it)",
    )
