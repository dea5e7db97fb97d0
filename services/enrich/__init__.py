"""Enrich: entities, countries and world regions, with provenance."""
