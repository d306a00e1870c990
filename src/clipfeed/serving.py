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


def run_processes(config: Any) -> None:
    """``serve --processes N``: uvicorn's supervisor, except that on SIGTERM it closes its copy
    of the listening socket before asking the serving processes to drain. Otherwise the socket
    stays open in the parent while they drain, and the kernel keeps accepting connections that
    no process will ever read: clients hang until the parent exits, instead of being refused
    at once and retrying elsewhere."""
    from uvicorn.supervisors import Multiprocess

    class DrainingSupervisor(Multiprocess):
        def terminate_all(self) -> None:
            for sock in self.sockets:
                sock.close()
            super().terminate_all()

    DrainingSupervisor(config, sockets=[config.bind_socket()]).run()
