"""Debian's chromium for the console's browser test and benches: where it is, how it is
started (headless through Playwright), where screenshots go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testkit.processes import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "tests" / "console" / "artifacts"  # screenshots (gitignored)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return (
            f"{CHROMIUM} is missing: run tests/console/browser-deps.sh "
            "(or `make browser-deps`) to install Debian's chromium"
        )
    return None


def launch_chromium(pw: Any) -> Any:
    """A headless chromium browser from a started ``sync_playwright()``."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
