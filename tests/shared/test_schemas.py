"""Message contract: stable ids, versioning, validation with readable reasons."""

from __future__ import annotations

import pytest

from shared.ids import article_id, content_hash
from shared.schemas import ArticleBatch, ArticlePayload, SchemaError, dump, parse
from testkit.factories import article_fields


def test_id_from_canonical_url_is_stable_and_ignores_text():
    a = article_id("https://example.test/a", "Title", "Body one")
    b = article_id("https://example.test/a", "Other title", "Body two")
    assert a == b and len(a) == 32


def test_id_without_url_depends_on_normalized_title_and_body():
    a = article_id(None, "Title", "Body  one\n\n")
    b = article_id(None, "title", "body one")
    c = article_id(None, "Title", "Body two")
    assert a == b != c


def test_content_hash_normalizes_whitespace_and_case():
    assert content_hash("T", "A  b\nc") == content_hash("t", "a b c")
    assert content_hash("T", "A b c") != content_hash("T", "A b d")


def test_published_at_is_utc_and_serialized_iso():
    p = ArticlePayload.model_validate(
        article_fields("a" * 32, "Text.", published_at="2024-01-15T10:30:00+02:00")
    )
    assert dump(p)["published_at"] == "2024-01-15T08:30:00Z"


def test_unknown_schema_version_is_a_readable_permanent_error():
    with pytest.raises(SchemaError, match="unsupported schema_version 99"):
        parse(ArticleBatch, {"schema_version": 99, "articles": []})


def test_missing_fields_name_the_field():
    with pytest.raises(SchemaError, match="body"):
        parse(ArticleBatch, {"articles": [{"id": "x", "content_hash": "h"}]})


def test_unknown_fields_from_newer_producers_are_ignored():
    batch = parse(ArticleBatch, {"articles": [article_fields("a" * 32, "Text.", future_field=1)]})
    assert batch.articles[0].id == "a" * 32
