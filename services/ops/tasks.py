"""Operator tasks (reconciler)."""
