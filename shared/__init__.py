"""Newswire's common package: settings, message schemas, Celery app, logging, database."""

__version__ = "0.1.0"
