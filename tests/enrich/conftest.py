"""Fixtures for the enrich tests: one real tagger (spaCy model + gazetteer) per session."""

from __future__ import annotations

import pytest

from services.enrich.tagger import Tagger, get_tagger


@pytest.fixture(scope="session")
def tagger() -> Tagger:
    return get_tagger()


@pytest.fixture(scope="session")
def tag(tagger: Tagger):
    def _tag(body: str, **kw) -> dict:
        art = {"id": kw.pop("id", "t"), "body": body, "language": kw.pop("language", "en"), **kw}
        return tagger.tag(art)

    return _tag
