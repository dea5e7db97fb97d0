"""Entry points: the only code that wires every service together (docs/architecture.md).

- ``cli.py``: ``newswire`` (console script), core commands and every service's commands,
  included explicitly;
- ``api.py``: the HTTP API app (``uvicorn services.entrypoints.api:app``), every service's
  routers included explicitly;
- ``worker.py``: ``newswire worker SERVICE`` and ``newswire scheduler`` (Celery worker and
  beat start-up: worker hooks, heartbeats);
- ``beat.py``: the scheduler's app (every service's periodic tasks);
- ``tasks.py``: every service's task modules, registered with the Celery app (imported by
  the worker and the API, lazily by the CLI);
- ``startup.py``: the start-up checks they share (database and broker reachable).

Nothing imports this package (checked by ``.importlinter``).
"""
