"""``clipfeed events replay``: move a consumer group back in its topic, optionally wipe the
state it derives first, and optionally run it here until it has caught up again.

With ``--rebuild --from earliest`` the derived state is computed afresh from everything the
topic retains (a rebuilt state equals the live one as long as retention kept every event).
Without ``--rebuild`` the group re-reads and its idempotent handlers drop what they already
applied, which repairs gaps (a lost cache, a bug fixed in a handler that applies by ID).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from clipfeed.core.errors import Invalid
from clipfeed.runtime.consumers import run_processor
from clipfeed.runtime.services import Services
from clipfeed.stream.catchup import lag, wait_for_catch_up
from clipfeed.stream.worker import STREAM_PROCESSORS, StreamProcessor

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Start:
    offset: int | None = None
    time: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> Start:
        """``earliest``, an offset (every partition), or an ISO 8601 time."""
        if text == "earliest":
            return cls(time=EARLIEST)
        if text.isdigit():
            return cls(offset=int(text))
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise Invalid(f"--from takes 'earliest', an offset or an ISO 8601 time, not {text!r}") from exc
        return cls(time=moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def processor_for(group: str) -> type[StreamProcessor] | None:
    return next((p for p in STREAM_PROCESSORS if p.group == group), None)


async def replay(*, services: Services, topic: str, group: str, start: Start, rebuild: bool = False,
                 run: bool = False, timeout: float = 3600.0,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
    kind = processor_for(group)
    if (rebuild or run) and kind is None:
        known = ", ".join(p.group for p in STREAM_PROCESSORS)
        raise Invalid(f"--rebuild and --run need a stream group ({known}), not {group!r}")
    if kind is not None and topic not in kind.topics:
        raise Invalid(f"group {group} reads {', '.join(kind.topics)}, not {topic}")
    # The group must exist before it can be moved; joining and leaving creates it.
    member = await services.log.consumer(topic, group, shared=kind.shared if kind else False,
                                         ack_wait=kind.ack_wait if kind else 30.0)
    await member.close()
    processor = kind(services) if kind is not None else None
    if rebuild and processor is not None:
        await processor.reset()
    partitions = await services.log.partitions(topic)
    if start.offset is not None:
        await services.log.seek_group(topic, group, to_offset=dict.fromkeys(range(partitions), start.offset))
    else:
        await services.log.seek_group(topic, group, to_time=start.time)
    if not run or processor is None:
        return
    stop = asyncio.Event()
    runner = asyncio.create_task(run_processor(processor, stop))
    try:
        waiting = asyncio.create_task(wait_for_catch_up(services=services, groups=[(group, topic)],
                                                        timeout=timeout, flush_outbox=False))
        while not waiting.done():
            if on_progress is not None:
                behind = await lag(group, topic, services=services)
                on_progress(partitions - (behind or 0), partitions)
            await asyncio.wait({waiting}, timeout=0.5)
        await waiting
        if on_progress is not None:
            on_progress(partitions, partitions)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await runner
