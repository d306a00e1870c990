"""Structured logs: JSON lines with the request ID bound per request (structlog).

Everything a process logs goes out in the one format: our structlog events, and the standard
``logging`` records of libraries (uvicorn, transformers, sentence-transformers, faiss's loader)
and Python warnings, which pass through the same renderer. Each line carries the process ID,
so the lines of ``serve --processes N`` can be told apart.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def _add_pid(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.setdefault("pid", os.getpid())
    return event


def configure(level: str = "INFO", *, json: bool = True) -> None:
    renderer: structlog.types.Processor = (structlog.processors.JSONRenderer() if json
                                           else structlog.dev.ConsoleRenderer(colors=False))
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            _add_pid,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.add_log_level, stamp, _add_pid],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer]))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # warnings.warn from libraries: a log line, not a bare print
    for noisy in ("uvicorn.access", "botocore", "urllib3", "aiosqlite", "nats"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for own_handler in ("uvicorn", "uvicorn.error", "transformers", "sentence_transformers"):
        # Libraries that install a plain-text handler of their own: through ours instead.
        library = logging.getLogger(own_handler)
        library.handlers = []
        library.propagate = True
