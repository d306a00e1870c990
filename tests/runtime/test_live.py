"""Live fan-out across processes: an event committed through one process's outbox reaches a
listener in another process that shares the log."""

from __future__ import annotations

import asyncio
import time

from clipfeed.bootstrap import bootstrap
from clipfeed.core.contract import EventType, Payload


class Progress(Payload):
    percent: int = 0


NOISE, PROGRESS = EventType("noise", "test.live", Progress), EventType("progress", "test.live", Progress)


async def test_event_from_another_process_reaches_a_listener_within_a_second(*, services) -> None:
    other = await bootstrap(services.settings)  # a second API process on the same engines
    try:
        async with services.live.listen("test.live", "clip-7") as queue:
            started = time.monotonic()
            async with other.db.session() as session:
                other.outbox.record(session, NOISE, key="clip-8", payload=Progress())
                other.outbox.record(session, PROGRESS, key="clip-7", payload=Progress(percent=40))
            event = await asyncio.wait_for(queue.get(), 5)
            assert event.type == "progress" and event.payload == {"percent": 40}
            assert time.monotonic() - started < 1.0
            assert queue.empty()  # the other key's event was not handed to us
    finally:
        await other.close()
