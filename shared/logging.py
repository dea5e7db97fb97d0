"""structlog, configured once per process; stdlib and Celery logs share the processors.

Bind context with :func:`structlog.contextvars.bound_contextvars` (``task_id``,
``article_id``, ``trace_id``) so every line of an article's journey carries them.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

import structlog

from shared.settings import get_settings

_configured = False


def configure_logging(log_format: str | None = None, level: str | None = None) -> None:
    """Set up structlog and the stdlib root logger. Safe to call more than once."""
    global _configured
    settings = get_settings()
    log_format = (log_format or settings.log_format).lower()
    level = (level or settings.log_level).upper()

    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        shared_processors.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())

    structlog.configure(
        processors=[
            *shared_processors,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Servers that bring their own handlers (uvicorn) go through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "flower", "tornado"):
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
    # Quiet chatty libraries unless asked for debug.
    if level != "DEBUG":
        for name in ("httpx", "httpcore", "urllib3", "trafilatura", "htmldate", "asyncio"):
            logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    if not _configured:
        configure_logging()
    return structlog.get_logger(name)
