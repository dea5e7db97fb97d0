"""Store: persist enriched articles idempotently and serve them.

- ``models.py``: articles, entities, mentions, article countries/regions (Alembic only;
  ``migrations/versions/0002_store.py`` adds the ``dated_at`` sort key, the PostgreSQL
  full-text GIN index and the case-insensitive lookup indexes);
- ``repository.py``: batched idempotent upserts (COPY on PostgreSQL, multi-row VALUES on
  SQLite); a late copy of an older enrichment never rolls tags back;
- ``queries.py``: the filters shared by the API, ``newswire articles`` and ``newswire
  export``; keyset pagination; aggregates; ``iter_article_payloads`` for re-enrichment;
- ``api/``: the store's routers (``reads.py``, ``stories.py``), included by the API app
  (``services/entrypoints/api.py``);
- ``tasks.py``: ``store.store_articles`` (message: ``EnrichedBatch``).
"""
