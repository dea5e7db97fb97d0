"""The HTTP API of Newswire (FastAPI): queries over the store, plus the ingest router."""
