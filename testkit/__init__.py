"""Test and benchmark infrastructure (not shipped: the image copies shared/ and services/ only).

Processes of the compose topology, a cluster of workers with fault injection, a generated
corpus and throw-away databases: used by ``tests/`` and ``bench/`` alike, so benches never
import tests.
"""
