"""Operators: queues, dead letters, reconciler, metrics, health.

* ``queues``       what Redis holds per queue (waiting, reserved, oldest age) + DB rates/lag
* ``signals``      publish-time header on every message; task counters/histograms in Redis
* ``deadletters``  list / show / replay / discard
* ``reconcile``    re-send articles received but not stored (task ``store.reconcile``)
* ``backpressure`` ``wait_for_capacity()`` for bulk ingest and feed polling
* ``metrics``      Prometheus collector computed at scrape time; ``api`` serves GET /metrics
* ``cli``          ``newswire queues|dead|status|trace|health|flower|reconcile``

Per-article attempts and poison isolation live in :mod:`shared.tasks` (PipelineTask).
"""
