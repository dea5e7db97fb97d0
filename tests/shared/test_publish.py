"""Publish-time headers: every producer stamps the time and the article count."""

from __future__ import annotations

import time

from shared.publish import ARTICLES_HEADER, PUBLISHED_HEADER, stamp_published_at


def test_headers_carry_publish_time_and_article_count() -> None:
    headers: dict = {}
    before = time.time()
    stamp_published_at(headers=headers, body=([{"articles": [{}, {}, {}]}], {}, {}))
    assert before <= headers[PUBLISHED_HEADER] <= time.time()
    assert headers[ARTICLES_HEADER] == 3
    raw: dict = {}
    stamp_published_at(headers=raw, body=([{"items": [{}]}], {}, {}))
    assert raw[ARTICLES_HEADER] == 1


def test_a_message_without_articles_gets_only_the_time() -> None:
    headers: dict = {}
    stamp_published_at(headers=headers, body=([], {}, {}))
    assert set(headers) == {PUBLISHED_HEADER}


def test_the_app_stamps_what_it_publishes() -> None:
    from celery import signals

    from shared.celery_app import create_app

    create_app().close()  # building an app (any producer's) connects the receiver
    headers: dict = {}
    signals.before_task_publish.send(sender="x", headers=headers, body=([{"articles": [{}]}],))
    assert headers[ARTICLES_HEADER] == 1 and PUBLISHED_HEADER in headers
