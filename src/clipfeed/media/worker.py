"""``clipfeed worker media``: the media job queue and the chunk queue.

Both are shared consumer groups (work queues): every media worker takes jobs from both, one
at a time each, and FFmpeg uses the cores. A job's lease (``CLIPFEED_MEDIA_ACK_WAIT_S``) is
renewed by a heartbeat while it runs; a worker that dies stops renewing, and the job goes to
another worker after the lease ends. Failures are retried with backoff; after the last
delivery the clip is marked ``failed`` and the job dead-lettered (``dlq.media``).

A lock in the cache (``media:lock:{clip_id}``, renewed with the lease) keeps two workers from
working on one clip at once should a lease lapse under a live worker; the second waits. A worker
that finds its lock lost (it stalled past the lock's time to live) stops the job before it
publishes, and the result itself is written only to a clip still ``processing`` (``results``),
so a job run twice still writes (and announces) one result.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import ClassVar

import structlog

from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.infra.log import Record
from clipfeed.media import fencing, results
from clipfeed.media.job import Job, LongJobProcessor
from clipfeed.media.pipeline import run_job
from clipfeed.runtime.consumers import Processor, is_outage

log = structlog.get_logger(__name__)


class MediaProcessor(LongJobProcessor):
    group: ClassVar[str] = "media"
    topics: ClassVar[list[str]] = [contract.Topic.MEDIA_UPLOADED]

    async def handle_one(self, record: Record) -> None:
        try:
            job = Job.from_event(Event.decode(record.value))
        except Exception as exc:
            # Unreadable: retried like any failure (a bug fix may land meanwhile), then the clip
            # named by the record key is marked failed before the record is dead-lettered.
            if record.delivery_count >= self.max_deliveries and (clip_id := _clip_id_of(record)) is not None:
                await results.fail_unreadable(clip_id, f"unreadable job: {type(exc).__name__}: {exc}",
                                              services=self.services)
            raise
        async with clip_lock(self, job.clip_id):
            try:
                outcome = await run_job(job, services=self.services)
            except Exception as exc:
                # Stopping (SIGTERM reaches FFmpeg too): the job is handed back, not failed.
                if (record.delivery_count >= self.max_deliveries and not self.stopping.is_set()
                        and not is_outage(exc)):  # an outage (a full disk too) is waited out, not failed
                    log.error("media.gave_up", clip_id=job.clip_id, error=str(exc))
                    await results.fail(job, f"{type(exc).__name__}: {exc}", services=self.services)
                raise
        log.info("media.job_done", clip_id=job.clip_id, outcome=outcome, delivery=record.delivery_count)


def _clip_id_of(record: Record) -> int | None:
    """The clip ID in a record's key (the topic is keyed by clip ID), or None."""
    try:
        clip_id = int((record.key or b"").decode())
    except (UnicodeDecodeError, ValueError):
        return None
    return clip_id if 0 < clip_id < 2**63 else None


@contextlib.asynccontextmanager
async def clip_lock(processor: Processor, clip_id: int) -> AsyncIterator[None]:
    """Hold ``media:lock:<clip_id>`` while the job runs. If it is lost (a stall longer than its
    time to live let it lapse, or someone else holds it now) the job stops with ``LockLost`` at
    its next step (``fencing.check``), and at the latest before it writes its result.

    Why not cancel the job at once: a cancelled task leaves the thread of a blob write it
    started running on, which could then write a work file after the worker that took over
    has cleaned up; the pipeline's own checks stop it between steps instead."""
    cache, ttl = processor.services.cache, float(processor.ack_wait)
    key, token = f"media:lock:{clip_id}", uuid.uuid4().hex.encode()
    while not await cache.add(key, token, ttl=ttl):
        await asyncio.sleep(min(2.0, ttl / 4))  # another live worker has it; our lease beats on
    renewed_at = time.monotonic()
    lost: list[str] = []

    async def still_ours() -> None:
        if lost:
            raise fencing.LockLost(lost[0])
        if time.monotonic() - renewed_at > ttl:
            lost.append(f"the lock on clip {clip_id} was not renewed for {ttl:.0f} s")
        elif await cache.get(key) != token:
            lost.append(f"the lock on clip {clip_id} passed to another worker")
        if lost:
            log.warning("media.lock_lost", clip_id=clip_id, reason=lost[0])
            raise fencing.LockLost(lost[0])

    async def renew() -> None:
        nonlocal renewed_at
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                await still_ours()
                await cache.set(key, token, ttl=ttl)
                renewed_at = time.monotonic()
            except fencing.LockLost:
                return  # the job's next check stops it
            except Exception as exc:  # the cache is down: we keep the job until the TTL says otherwise
                log.warning("media.lock_renew_failed", clip_id=clip_id, error=str(exc))

    renewing = asyncio.create_task(renew())
    fence = fencing.hold(still_ours)
    try:
        yield
    finally:
        fencing.release(fence)
        renewing.cancel()
        with contextlib.suppress(Exception):
            if not lost and await cache.get(key) == token:
                await cache.delete(key)
