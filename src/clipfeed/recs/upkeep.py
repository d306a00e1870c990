"""The stream role's card upkeep: lost clip cards and pools come back with no operator step.

The cache is only a cache (``clipfeed.infra.cache``): a Redis restarted without its data, a
node of a ring emptied on its return, memory eviction, or an embedded server restarted (its
cache lives in the process) all lose the clip cards, and a clip without a card is left out of
every feed. Every ``feed_cards_check_interval_s`` each stream process checks, cheaply:

* one bounded database read: the newest ``feed_cards_check_sample`` listed clips last
  changed more than ``INDEX_GRACE_S`` ago (a newer one may still be on its way through the
  indexer);
* one batched cache read of their cards (one round trip per node), beside the size of the
  recent pool.

When at least ``MISSING_SHARE`` of those cards are missing (a node of ten emptied loses about
a tenth), or the recent pool is gone while one of them is local, it rebuilds every card and pool
entry as ``clipfeed recs reindex`` does (``rebuild_cards``, idempotent, safe to kill).

Single flight across processes: the rebuild runs under a lease in the cache (``LEASE``, lives
``LEASE_S``, renewed after each batch); a process that finds it held leaves the work to its
holder. A holder killed mid-way lets it lapse, and the next check anywhere starts over.
Bounded cost: after a rebuild the fleet rests ``REST_FACTOR`` times as long as it took (at
least one interval), checked under the lease, so rebuilds take at most a tenth of the time even
when cards keep going (a cache too small for the catalogue evicting them, or a ring node out,
whose stand-ins keep what they are sent for 120 s only). The lease and the rest mark live in
the cache too: lost with it, the next check simply finds the cards missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
import structlog
from prometheus_client import Counter

from clipfeed.accounts.models import User
from clipfeed.clips.models import Clip
from clipfeed.infra.cache import Cache
from clipfeed.recs.cards import RECENT_POOL, card_key
from clipfeed.recs.indexing import BATCH, LISTED, rebuild_cards

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
INDEX_GRACE_S = 60.0  # a clip changed this recently may not have its card yet
MISSING_SHARE = 0.05  # of the sampled cards, missing, that start a rebuild
LEASE = "recs:cards:rebuild"
LEASE_S = 120.0
RESTING = "recs:cards:resting"
REST_FACTOR = 9.0
CHECKS = Counter("clipfeed_feed_card_checks_total", "Checks of the clip cards by the stream role's upkeep: whole, "
                 "rebuilt, busy (another process rebuilds), resting (one rebuilt them lately)", ["outcome"])
REBUILT = Counter("clipfeed_feed_cards_rebuilt_total", "Clip cards written again by rebuilds (upkeep and reindex)")


@dataclass(frozen=True, slots=True)
class CardCheck:
    sampled: int  # listed clips looked at
    missing: int  # of them, without a card
    local: bool  # one of them is this server's (so belongs in the recent pool: remote ones may not)
    pool: bool  # the recent pool exists

    @property
    def lost(self) -> str | None:
        """What was found lost (``cards`` or ``pool``), or None when all is well."""
        if self.sampled and self.missing >= max(1.0, MISSING_SHARE * self.sampled):
            return "cards"
        if self.local and not self.pool:
            return "pool"
        return None


async def check_cards(*, services: Services, sample: int) -> CardCheck:
    changed_before = datetime.now(UTC) - timedelta(seconds=INDEX_GRACE_S)
    # The newest clips first (read backwards by ID, stopping after ``sample``: a subquery with
    # its own limit), then joined to their creators: bounded however large the tables grow.
    newest = (sa.select(Clip.id, Clip.owner_id).where(*LISTED, Clip.updated_at < changed_before)
              .order_by(Clip.id.desc()).limit(sample).subquery())
    async with services.db.read_session() as session:
        rows = (await session.execute(sa.select(newest.c.id, User.domain).join(User, User.id == newest.c.owner_id)
                                      .where(User.deleted_at.is_(None), User.suspended_at.is_(None)))).all()
    if not rows:
        return CardCheck(0, 0, False, True)
    cards, pool = await asyncio.gather(services.cache.get_many([card_key(clip_id) for clip_id, _ in rows]),
                                       services.cache.zcard(RECENT_POOL))
    return CardCheck(len(rows), sum(1 for card in cards if card is None),
                     any(domain is None for _, domain in rows), pool > 0)


class Lease:
    """This process's hold on ``LEASE``."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.token = uuid.uuid4().hex.encode()

    async def take(self) -> bool:
        return await self.cache.add(LEASE, self.token, ttl=LEASE_S)

    async def renew(self) -> bool:
        """Still ours (renewed), or taken again if it went with the cache; False once another
        process holds it (ours lapsed in a stall): that one carries on. Between the read and
        the write another may take a lapsed lease; two rebuilds then overlap once, harmlessly."""
        holder = await self.cache.get(LEASE)
        if holder == self.token:
            await self.cache.set(LEASE, self.token, ttl=LEASE_S)
            return True
        return holder is None and await self.take()

    async def release(self) -> None:
        if await self.cache.get(LEASE) == self.token:
            await self.cache.delete(LEASE)


@contextlib.asynccontextmanager
async def rebuild_lease(cache: Cache) -> AsyncIterator[Lease | None]:
    """The lease while the block runs, or None when another process holds it."""
    lease = Lease(cache)
    if not await lease.take():
        yield None
        return
    try:
        yield lease
    finally:
        with contextlib.suppress(Exception):  # lapses by itself otherwise
            await lease.release()


async def rebuild_under(lease: Lease, *, services: Services, batch: int = BATCH,
                        progress: Callable[[int], None] | None = None) -> int:
    """``rebuild_cards`` renewing ``lease`` after each batch (stopping if it is lost), then the
    rest mark, set before the lease goes so no process starts another rebuild on a stale check."""
    started = time.monotonic()
    held = True

    async def step(total: int) -> bool:
        nonlocal held
        if progress is not None:
            progress(total)
        held = await lease.renew()
        return held

    total = await rebuild_cards(services=services, batch=batch, step=step)
    seconds = time.monotonic() - started
    REBUILT.inc(total)
    if not held:  # the process that holds it now rebuilds from the start, and rests after
        log.warning("recs.cards_rebuild_handed_over", clips=total, seconds=round(seconds, 2))
        return total
    rest = max(REST_FACTOR * seconds, services.settings.feed_cards_check_interval_s, 1.0)
    await services.cache.set(RESTING, b"1", ttl=rest)
    log.info("recs.cards_rebuilt", clips=total, seconds=round(seconds, 2), rest_s=round(rest, 1))
    return total


async def heal_once(*, services: Services, batch: int = BATCH) -> str:
    """One check, and the rebuild if it finds cards lost; returns the outcome (``CHECKS``)."""
    found = await check_cards(services=services, sample=services.settings.feed_cards_check_sample)
    outcome = "whole"
    if found.lost is not None:
        log.warning("recs.cards_lost", lost=found.lost, sampled=found.sampled, missing=found.missing,
                    recent_pool=found.pool)
        async with rebuild_lease(services.cache) as lease:
            if lease is None:
                outcome = "busy"
            elif await services.cache.get(RESTING) is not None:
                outcome = "resting"
            else:
                await rebuild_under(lease, services=services, batch=batch)
                outcome = "rebuilt"
    CHECKS.labels(outcome).inc()
    return outcome


async def upkeep_loop(stop: asyncio.Event, *, services: Services) -> None:
    """Checks the feed's clip cards at start (a restarted embedded server finds its cache
    empty) and every ``feed_cards_check_interval_s`` (0: never), and rebuilds them all, one
    process at a time, when the cache lost them (``heal_once``)."""
    every = services.settings.feed_cards_check_interval_s
    while every > 0 and not stop.is_set():
        try:
            await heal_once(services=services)
        except Exception as exc:  # the cache or the database away: the next check tries again
            log.warning("recs.cards_check_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
