"""A loopback TCP proxy a test puts between a client and a real engine, to break the
connection in the ways networks do: drop connections, or accept them and never answer.
The client under test is the real one; only the path to the server misbehaves."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.mode: Literal["forward", "blackhole"] = "forward"
        self.drop_next = 0  # connections to close as soon as they are accepted
        self.delay_s = 0.0  # added to every chunk, each way (a round trip costs twice this)
        self.connections = 0  # connections accepted so far
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def cut(self) -> None:
        """Close every connection open now, as a server restart does."""
        for writer in list(self._open):
            writer.close()
        self._open.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.drop_next > 0:
            self.drop_next -= 1
            writer.close()
            return
        self._open.add(writer)
        if self.mode == "blackhole":  # read whatever comes, answer nothing
            with contextlib.suppress(OSError):
                while await reader.read(65536):
                    pass
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._open.add(up_writer)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.delay_s:
            await self._pump_late(reader, writer)
            return
        with contextlib.suppress(OSError, RuntimeError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._open.discard(writer)

    async def _pump_late(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Each chunk leaves ``delay_s`` after it arrived, in order, however many are on the way
        (a slow link, not a slow server: throughput is not capped)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        with contextlib.suppress(OSError, RuntimeError):
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + self.delay_s, data))
            queue.put_nowait((loop.time() + self.delay_s, b""))
            await sender
        sender.cancel()
        writer.close()
        self._open.discard(writer)
