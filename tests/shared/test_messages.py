"""Message helpers: which list splits, halves, per-article refs."""

from __future__ import annotations

from shared.messages import article_refs, halves, single, split_key
from shared.queues import priority_keys


def test_split_key_and_halves() -> None:
    message = {"schema_version": 1, "articles": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}
    assert split_key(message) == "articles"
    assert split_key({"items": [{}]}) == "items"
    assert split_key({"articles": []}) is None and split_key("x") is None
    first, second = halves(message, "articles")
    assert first["articles"] == [{"id": "a"}, {"id": "b"}] and second["articles"] == [{"id": "c"}]
    assert first["schema_version"] == second["schema_version"] == 1
    assert single(message, "articles", {"id": "b"})["articles"] == [{"id": "b"}]


def test_article_refs_skip_malformed_items() -> None:
    message = {"articles": [{"id": "a", "trace_id": "t"}, {"id": ""}, "junk", {"id": "b"}]}
    assert article_refs(message) == [("a", "t"), ("b", None)]


def test_priority_keys_follow_kombu() -> None:
    assert priority_keys("enrich") == [
        "enrich",
        "enrich\x06\x163",
        "enrich\x06\x166",
        "enrich\x06\x169",
    ]
