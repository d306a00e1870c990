"""Live fan-out: one tail of a topic per process, handed to every open connection that
listens for a key (a clip's status page, a user's notification stream).

Each API process tails the log itself, so a client connected to any process hears about an
event written by any other. Delivery is best effort: a listener that falls behind loses the
oldest events rather than slowing the others, and clients recover by reading stored state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator

import structlog

from clipfeed.core.events import Event
from clipfeed.infra.log import EventLog

log = structlog.get_logger(__name__)
QUEUE_SIZE = 256


class LiveHub:
    def __init__(self, event_log: EventLog) -> None:
        self.event_log = event_log
        self._listeners: dict[str, dict[str, set[asyncio.Queue[Event]]]] = defaultdict(lambda: defaultdict(set))
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._ready: dict[str, asyncio.Event] = {}

    @contextlib.asynccontextmanager
    async def listen(self, topic: str, key: str) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue of the events of ``topic`` whose key is ``key``, from now on."""
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._listeners[topic][key].add(queue)
        await self._ensure_tail(topic)
        try:
            yield queue
        finally:
            self._listeners[topic][key].discard(queue)
            if not self._listeners[topic][key]:
                del self._listeners[topic][key]

    async def _ensure_tail(self, topic: str) -> None:
        task = self._tails.get(topic)
        if task is None or task.done():
            self._ready[topic] = asyncio.Event()
            self._tails[topic] = asyncio.create_task(self._run(topic), name=f"live-tail-{topic}")
        # Wait until the tail holds its starting position, so nothing appended after
        # ``listen`` returns is missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready[topic].wait(), 5)

    async def _run(self, topic: str) -> None:
        while True:
            try:
                records = await self.event_log.tail(topic)
                self._ready[topic].set()
                async for record in records:
                    self._dispatch(topic, record.value)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the log went away: keep trying, listeners keep waiting
                log.warning("live.tail_failed", topic=topic, error=str(exc))
                await asyncio.sleep(1)

    def _dispatch(self, topic: str, raw: bytes) -> None:
        try:
            event = Event.decode(raw)
        except ValueError:
            log.warning("live.undecodable_event", topic=topic)
            return
        for queue in self._listeners[topic].get(event.key, ()):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    async def close(self) -> None:
        for task in self._tails.values():
            task.cancel()
        await asyncio.gather(*self._tails.values(), return_exceptions=True)
