"""Helpers over a pipeline message: the list that can be split, its articles, halves."""

from __future__ import annotations

from typing import Any

# The list in a message that can be split: articles (hops 1 and 2) or raw items (hop 0).
SPLIT_KEYS = ("articles", "items")


def split_key(message: Any) -> str | None:
    """The list that can be split, when the message has a non-empty one."""
    if isinstance(message, dict):
        for key in SPLIT_KEYS:
            if isinstance(message.get(key), list) and message[key]:
                return key
    return None


def article_refs(message: Any) -> list[tuple[str, str | None]]:
    """(article_id, trace_id) of every well-formed article of a message."""
    if not isinstance(message, dict) or not isinstance(message.get("articles"), list):
        return []
    refs = []
    for item in message["articles"]:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            trace = item.get("trace_id")
            refs.append((item["id"][:64], trace if isinstance(trace, str) else None))
    return refs


def single(message: dict[str, Any], key: str, item: Any) -> dict[str, Any]:
    """The same message carrying one item: what a per-article dead letter keeps."""
    return {**message, key: [item]}


def halves(message: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = message[key]
    middle = (len(items) + 1) // 2
    return [{**message, key: items[:middle]}, {**message, key: items[middle:]}]
