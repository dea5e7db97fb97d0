"""Operators: queues, dead letters, reconciler, metrics, health."""
