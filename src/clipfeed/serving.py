"""The ASGI applications as ``clipfeed serve`` starts them in each serving process.

With ``--processes N`` uvicorn spawns fresh interpreters that only call these factories, so
whatever a serving process needs before its first request happens here: logging in the
configured format (else the children would log in structlog's default console format), then
the application. The Prometheus multiprocess folder is prepared by ``serve`` before the
children start (see ``clipfeed.http.metrics``).
"""

from __future__ import annotations

import time
from typing import Any

import structlog

from clipfeed.logs import configure
from clipfeed.settings import Settings

log = structlog.get_logger(__name__)


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


def run_processes(config: Any, *, stop_within: float) -> None:
    """``serve --processes N``: uvicorn's supervisor, with two changes to how it stops.

    On SIGTERM it closes its copy of the listening socket before asking the serving processes
    to drain. Otherwise the socket stays open in the parent while they drain, and the kernel
    keeps accepting connections that no process will ever read: clients hang until the parent
    exits, instead of being refused at once and retrying elsewhere.

    It waits at most ``stop_within`` seconds for them to finish, then kills what is left.
    uvicorn waits for each without limit, and handles no signal meanwhile: one serving process
    frozen, or stuck in its shutdown, kept the whole server up until someone sent SIGKILL (and
    its exited siblings unreaped)."""
    from uvicorn.supervisors import Multiprocess

    class DrainingSupervisor(Multiprocess):
        def terminate_all(self) -> None:
            for sock in self.sockets:
                sock.close()
            super().terminate_all()

        def join_all(self) -> None:
            deadline = time.monotonic() + stop_within
            for process in self.processes:
                process.process.join(max(0.0, deadline - time.monotonic()))
            for process in self.processes:
                if process.process.is_alive():
                    log.warning("serve.process_killed", pid=process.pid, waited_s=stop_within)
                    process.kill()
                    process.process.join()

    DrainingSupervisor(config, sockets=[config.bind_socket()]).run()
