"""Test and benchmark infrastructure (not shipped: the image copies shared/ and services/ only).

Used by ``tests/`` and ``bench/`` alike, so benches never import tests:

* ``processes``: the compose topology's services as local processes;
* ``cluster``: a cluster of workers with fault injection, counting what was stored;
* ``stack``: the repository's docker-compose.yml on a real Docker engine;
* ``databases``: throw-away PostgreSQL databases, the test Redis;
* ``corpus``: generated raw items (ingest input);
* ``store_corpus``, ``story_corpus``, ``stock``: tagged corpora with known answers (store
  filters, story grouping, console source health).
"""
