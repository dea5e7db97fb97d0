"""The one exception every ingest step raises for an item it cannot use (a leaf module)."""

from __future__ import annotations


class Rejected(ValueError):
    """An item that cannot become an article; ``reason`` is for operators."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
