"""Fault-injection suite: N articles in, faults while they flow, every one stored once."""
