"""The remote servers of ``bench/federation.py``: inboxes on their own loopback addresses, all
in one child process, that check each delivery's signature and count deliveries per server; a
control port resets and reads the counts. Plain asyncio protocols: a framework would cost the
sinks more CPU than the thing measured."""

from __future__ import annotations

import asyncio
import functools
import json
import multiprocessing
import resource
import socket
import time
from collections import Counter
from typing import Any

import httpx


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Sink:
    """What the remote servers received since the last reset. ``public_pem`` set: every request
    must carry a valid signature of that key (else 401 and counted as bad); unset: plain POSTs."""

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, public_pem: str | None) -> None:
        from clipfeed.federation.signatures import load_public_key

        self.key = load_public_key(public_pem) if public_pem else None
        self.counts: Counter[str] = Counter()
        self.first: dict[str, float] = {}
        self.bad = 0
        self.cpu_from = cpu_seconds()

    def take(self, server: str, method: str, target: str, headers: dict[str, str], body: bytes) -> int:
        from clipfeed.federation.signatures import SignatureError, verify_request

        if self.key is not None:
            try:
                verify_request(method=method, target=target, headers=headers, body=body, public_key=self.key,
                               scheme="http")
            except SignatureError:
                self.bad += 1
                return 401
        self.counts[server] += 1
        self.first.setdefault(server, time.monotonic())  # CLOCK_MONOTONIC: one clock for the machine's processes
        return 202

    def stats(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "first": self.first, "bad": self.bad,
                "cpu": cpu_seconds() - self.cpu_from}


class Http(asyncio.Protocol):
    """Just enough HTTP/1.1 (keep-alive, Content-Length bodies) for inboxes and the control
    port; a framework would cost the sinks more CPU than the thing measured."""

    def __init__(self, sink: Sink, server: str | None) -> None:
        self.sink, self.server = sink, server
        self.buffer = bytearray()
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = dict(line.split(":", 1) for line in lines[1:])
            headers = {name.strip(): value.strip() for name, value in headers.items()}
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4:end + 4 + length])
            del self.buffer[:end + 4 + length]
            status, answer = self.answer(method, target, headers, body)
            self.transport.write(f"HTTP/1.1 {status} X\r\ncontent-length: {len(answer)}\r\n\r\n".encode() + answer)

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.server is not None:
            return self.sink.take(self.server, method, target, headers, body), b""
        if target == "/reset":
            self.sink.reset(json.loads(body)["public_pem"])
            return 200, b"{}"
        return 200, json.dumps(self.sink.stats()).encode()


def sink_address(n: int) -> str:
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


def run_sinks(servers: int, ready: Any) -> None:
    """The child process: ``servers`` inboxes on their own addresses, and a control port."""
    import uvloop

    async def main() -> None:
        sink = Sink()
        loop = asyncio.get_running_loop()
        names = []
        for n in range(servers):
            listener = socket.socket()
            listener.bind((sink_address(n), 0))
            name = f"{sink_address(n)}:{listener.getsockname()[1]}"
            await loop.create_server(functools.partial(Http, sink, name), sock=listener, backlog=1024)
            names.append(name)
        control = await loop.create_server(lambda: Http(sink, None), "127.0.0.1", 0)
        ready.put((names, control.sockets[0].getsockname()[1]))
        await asyncio.Event().wait()

    uvloop.run(main())


class Sinks:
    def __init__(self, servers: int) -> None:
        context = multiprocessing.get_context("spawn")
        ready = context.Queue()
        self.process = context.Process(target=run_sinks, args=(servers, ready), daemon=True)
        self.process.start()
        self.names, port = ready.get(timeout=120)
        self.control = f"http://127.0.0.1:{port}"

    def reset(self, public_pem: str | None) -> None:
        httpx.post(f"{self.control}/reset", json={"public_pem": public_pem}).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.control}/stats").json()

    def close(self) -> None:
        self.process.terminate()
        self.process.join(10)
