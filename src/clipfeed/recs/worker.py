"""Event processors and loops of the feed.

- ``recs-indexer`` (stream role, topic ``clips``): a clip that becomes ready, visible and public
  gets a card and joins the pools (fresh pool, its creator's and hashtags' lists) within the
  worker's lag, so new clips reach feeds in seconds; deleted, rejected, held or private clips
  lose their card and vanish from every feed at once. ``users``: a deleted account's interests
  go; a suspended (reinstated) creator's clips leave (come back).
- stream role loop (``clipfeed.recs.upkeep``): cards and pools the cache lost are rebuilt.
- ``recs-feedback`` (stream role, playback and social topics): folds feedback into the live
  profile, clip rates, trending, the impression labels and exploration stats, deduplicated by
  event ID; a strong signal rebuilds the viewer's buffer in the background.
- batch role loop: closes impressions into Parquet every few minutes and retrains retrieval and
  the ranker every ``feed_train_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import structlog

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips_service
from clipfeed.core import contract
from clipfeed.core.contract import Topic
from clipfeed.core.events import Event
from clipfeed.core.viewers import ViewerId
from clipfeed.infra.log import Record
from clipfeed.recs import training
from clipfeed.recs.feed import schedule_refill
from clipfeed.recs.feedback import Feedback, fold, refill_viewers
from clipfeed.recs.indexing import active, index_clips, is_listed, unlist
from clipfeed.recs.profile import STATE_TTL_S, feedback_kind, known_key, ukey
from clipfeed.recs.upkeep import upkeep_loop
from clipfeed.recs.viewers import FeedViewer, delete_interests, forget_links
from clipfeed.runtime.consumers import Processor, run_processor
from clipfeed.runtime.services import Services
from clipfeed.stream.activity import Activity
from clipfeed.stream.activity import decode as decode_activity

log = structlog.get_logger(__name__)
SOCIAL_KINDS = {contract.LIKE_ADDED.name: "like", contract.BOOKMARK_ADDED.name: "like",
                contract.COMMENT_CREATED.name: "comment", contract.SHARE_CREATED.name: "share"}
FEEDBACK_KINDS = {"impression", "progress", "leave", "complete", "replay", "skip", "share", "not_interested", "like",
                  "comment"}


class ClipIndexer(Processor):
    group: ClassVar[str] = "recs-indexer"
    topics: ClassVar[tuple[str, ...]] = (Topic.CLIPS, Topic.USERS)

    async def handle(self, records: list[Record]) -> None:
        clip_ids: set[int] = set()
        ready: set[int] = set()
        for record in records:
            event = Event.decode(record.value)
            if record.topic == Topic.USERS:
                if event.type == contract.USER_DELETED.name:
                    await delete_interests(int(event.key), services=self.services)
                elif event.type in (contract.USER_SUSPENDED.name, contract.USER_REINSTATED.name):
                    # A suspended creator's clips leave the feeds (access.can_see hides them
                    # everywhere else) and come back with the account.
                    clip_ids.update(await clips_service.live_ids_of_owner(db=self.services.db,
                                                                          owner_id=int(event.key)))
                continue
            clip_ids.add(int(event.key))
            if event.type == contract.CLIP_READY.name:
                ready.add(int(event.key))
        if not clip_ids:
            return
        found = await clips_service.get_many(db=self.services.db, clip_ids=list(clip_ids))
        owners = await accounts.get_many(db=self.services.db, user_ids=list({c.owner_id for c in found.values()}))
        listed = [c for c in found.values() if is_listed(c) and active(owners.get(c.owner_id))]
        listed_ids = {c.id for c in listed}
        # Only a newly ready clip joins the fresh pool; an edit of an old one must not put it back.
        await index_clips([c for c in listed if c.id in ready], services=self.services)
        await index_clips([c for c in listed if c.id not in ready], fresh=False, services=self.services)
        for clip_id in clip_ids:
            clip = found.get(clip_id)
            if clip_id not in listed_ids:
                await unlist(clip_id, clip, services=self.services)


LINK_TYPES = frozenset(t.name for t in (contract.FOLLOW_ADDED, contract.FOLLOW_REMOVED, contract.BLOCK_ADDED,
                                       contract.BLOCK_REMOVED))


def viewer_of(activity: Activity) -> FeedViewer:
    """The feed's viewer of an activity (the same key: ``clipfeed.core.viewers``)."""
    return FeedViewer(key=activity.viewer, user_id=activity.user_id, region=activity.region or "global")


class FeedbackProcessor(Processor):
    """Partitioned by viewer (``activity.users``), so each viewer's state has one writer."""

    group: ClassVar[str] = "recs-feedback"
    topics: ClassVar[tuple[str, ...]] = (Topic.ACTIVITY_USERS, Topic.SOCIAL)

    async def handle(self, records: list[Record]) -> None:
        """Playback events are folded a run at a time (``clipfeed.recs.feedback``: idempotent by
        event ID, per-viewer order kept, what a crash loses); a social record between them is
        handled in its place. Every record is decoded first, so a poison one fails the batch
        before anything is applied."""
        decoded = [Event.decode(record.value) if record.topic == Topic.SOCIAL else decode_activity(record.value)
                   for record in records]
        run: list[Feedback] = []
        for item in decoded:
            if isinstance(item, Event):
                await self._fold(run)
                run = []
                await self._links_changed(item)
                continue
            kind = SOCIAL_KINDS.get(item.type) or feedback_kind(item.type, ended=item.ended,
                                                                position_ms=item.position_ms, watch_ms=item.watch_ms)
            if item.clip_id is not None and kind in FEEDBACK_KINDS:
                run.append(Feedback(item.id, viewer_of(item), item.clip_id, kind, item.watch_ms, item.ts))
        await self._fold(run)

    async def _fold(self, events: list[Feedback]) -> None:
        if not events:
            return
        applied = await fold(self.services.cache, events,
                             fresh_impressions=self.services.settings.feed_fresh_impressions)
        for viewer in refill_viewers(applied):
            schedule_refill(viewer, reason="signal", replace=True, services=self.services)

    async def _links_changed(self, event: Event) -> None:
        """Follows and blocks: drop the cached links so the next buffer sees them."""
        if event.actor_id is None or event.type not in LINK_TYPES:
            return
        await forget_links(event.actor_id, services=self.services)
        if event.type == contract.FOLLOW_ADDED.name:
            # Following someone is history: the next page is a personal build, not a cold start.
            viewer = ViewerId.signed_in(event.actor_id).key
            await self.services.cache.set(known_key(viewer), b"1", ttl=STATE_TTL_S)
            await self.services.cache.hincr_float(ukey(viewer, "creators"), str(int(event.key)),
                                                  3.0, ttl=60 * 24 * 3600.0)


async def training_loop(stop: asyncio.Event, *, services: Services) -> None:
    """Batch role: close impressions every 5 minutes, retrain on ``feed_train_interval_s``."""
    last_train = 0.0
    while not stop.is_set():
        try:
            await training.close_impressions(services=services)
            if time.time() - last_train >= services.settings.feed_train_interval_s:
                report: dict[str, Any] = await training.train(services=services)
                last_train = time.time()
                log.info("recs.trained", **{k: v for k, v in report.items() if k != "metrics"})
        except Exception as exc:
            log.warning("recs.training_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=300)


RECS_PROCESSORS = [ClipIndexer, FeedbackProcessor]
RECS_LOOPS = [upkeep_loop]  # stream role


@contextlib.asynccontextmanager
async def processors_running(*, services: Services) -> AsyncIterator[None]:
    """The feed's stream processors and loops in this process, as ``clipfeed worker stream``
    runs them (tests)."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_processor(factory(services), stop)) for factory in RECS_PROCESSORS]
    tasks += [asyncio.create_task(loop(stop, services=services)) for loop in RECS_LOOPS]
    try:
        yield
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
