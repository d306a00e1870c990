"""A plain HTTP server on loopback serving a folder: a remote server's file host or NodeInfo,
for tests that need a real origin without a whole fediverse server."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Origin:
    """The running server: its address, and the paths it was asked for."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port, self.asked = root, port, list[str]()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"http://{self.host}/{name}"


@contextlib.contextmanager
def origin_server(root: Path) -> Iterator[Origin]:
    asked: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            asked.append(self.path)
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    origin = Origin(root, server.server_address[1])
    origin.asked = asked
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()
