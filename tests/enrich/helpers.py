"""Reading a tagger result in the enrich tests: entities by canonical name, country codes."""

from __future__ import annotations


def by_canonical(result: dict) -> dict[str, dict]:
    return {e["canonical"]: e for e in result["entities"]}


def codes(result: dict) -> set[str]:
    return {c["code"] for c in result["countries"]}


def focus(result: dict) -> set[str]:
    return {c["code"] for c in result["countries"] if c["focus"]}
