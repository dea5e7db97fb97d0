"""Ingest: sources -> clean, normalized, de-duplicated article payloads."""
