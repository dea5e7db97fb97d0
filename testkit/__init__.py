"""Test and benchmark infrastructure (not shipped: the image copies shared/ and services/ only).

Used by ``tests/`` and ``bench/`` alike, so benches never import tests (``.importlinter``):

* ``factories``: every article and message (payloads, enriched articles, batches, records);
* ``databases``: throw-away PostgreSQL databases, the test Redis;
* ``workers``, ``api``: ``newswire worker`` and the API app as processes, broker mode;
* ``processes``: the compose topology's services as local processes;
* ``cluster``: a cluster of workers with fault injection, counting what was stored;
* ``stack``: the repository's docker-compose.yml on a real Docker engine;
* ``browser``: Debian's chromium through Playwright;
* ``corpus``: generated raw items (ingest input) and the bundled samples' titles;
* ``store_corpus``, ``story_corpus``, ``stock``: tagged corpora with known answers (store
  filters, story grouping, console source health).
"""
