"""Benchmarks that print figures (run as scripts: ``python bench/NAME.py``).

A package only so that ``lint-imports`` can read it: benches import no tests
(``.importlinter``), they share ``testkit/`` with the tests instead.
"""
