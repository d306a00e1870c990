"""The ASGI applications as ``clipfeed serve`` starts them in each serving process.

With ``--processes N`` uvicorn spawns fresh interpreters that only call these factories, so
whatever a serving process needs before its first request happens here: logging in the
configured format (else the children would log in structlog's default console format), then
the application. The Prometheus multiprocess folder is prepared by ``serve`` before the
children start (see ``clipfeed.http.metrics``).
"""

from __future__ import annotations

from typing import Any

from clipfeed.logs import configure
from clipfeed.settings import Settings


def _configured() -> Settings:
    settings = Settings()
    configure(settings.log_level, json=settings.log_json)
    return settings


def api() -> Any:
    from clipfeed.api import create_app

    _configured()
    return create_app()


def origin() -> Any:
    from clipfeed.delivery.app import create_origin_app

    _configured()
    return create_origin_app()
