"""Where the console's browser tests find chromium and keep their screenshots."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots (gitignored)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return (
            f"{CHROMIUM} is missing: run tests/console/browser-deps.sh "
            "(or `make browser-deps`) to install Debian's chromium"
        )
    return None
