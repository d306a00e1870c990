"""A user simulator that drives the real feed service end to end.

Synthetic viewers have hidden tastes over topics (each clip has one topic, its hashtag, and a
hidden quality), a patience (they leave after a run of skips), fatigue (the same topic again
and again bores them) and watch-time behaviour (they watch liked clips to the end and skip the
rest after a few seconds). Each round every viewer has one session: they page through
``foryou_page`` (the service the HTTP route calls, on a scratch embedded stack: SQLite, local
files, in-process cache, embedded log) and report what they did through the real event
ingestion service (``POST /v1/events``'s), whose events reach the feed's processors through the
event log. New clips arrive every round; halfway, a third of the viewers change taste. After
the second round the batch job trains retrieval and the ranker from the impressions logged.

The same viewers with the same random seeds then use a popularity feed (most engaged clips
first, nothing seen twice) for comparison.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from clipfeed.core.viewers import ViewerId

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

TOPICS = ["cats", "dogs", "cooking", "skate", "music", "comedy", "travel", "science", "fitness", "art",
          "gaming", "fashion"]
DURATION_MS = 20_000


@dataclass
class SimViewer:
    device: str
    taste: np.ndarray
    patience: int
    shifted_to: int | None = None

    def appeal(self, topic: int, quality: float, repeats: int) -> float:
        affinity = 4.0 * self.taste[topic] * len(TOPICS) / 3 + 1.5 * quality - 0.45 * repeats - 2.2
        return 1.0 / (1.0 + math.exp(-affinity))


@dataclass
class Metrics:
    watch_s: list[float] = field(default_factory=list)        # per session
    diversity: list[float] = field(default_factory=list)      # distinct topics per page of 10
    impressions: int = 0
    fresh_impressions: int = 0                                 # of clips published this round
    new_clips: int = 0                                         # clips that arrived during the run
    new_clips_shown: set[int] = field(default_factory=set)    # of those, shown at least once
    # per session after the taste shift: shifted viewers' impressions, and those of the new taste
    shift_shown: dict[int, int] = field(default_factory=dict)
    shift_hits: dict[int, int] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        return {"watch s/session": float(np.mean(self.watch_s)) if self.watch_s else 0.0,
                "topics/page": float(np.mean(self.diversity)) if self.diversity else 0.0,
                "fresh share": self.fresh_impressions / max(1, self.impressions),
                "new clips shown": len(self.new_clips_shown) / max(1, self.new_clips),
                **{f"new taste, session {k + 1} after shift": self.shift_hits.get(k, 0) / max(1, self.shift_shown[k])
                   for k in sorted(self.shift_shown)}}


@dataclass
class Report:
    rows: dict[str, dict[str, float]]

    def table(self) -> str:
        names = list(next(iter(self.rows.values())))
        lines = ["| feed | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for feed, row in self.rows.items():
            lines.append(f"| {feed} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |")
        return "\n".join(lines)


class Feed(Protocol):
    """One arm's next page for a viewer (clip ids and the cursor for the page after)."""

    def __call__(self, viewer: SimViewer, cursor: str | None, /, *,
                 services: Services) -> Awaitable[tuple[list[int], str | None]]: ...


async def clipfeed_feed(viewer: SimViewer, cursor: str | None, *, services: Services) -> tuple[list[int], str | None]:
    from clipfeed.recs.feed import foryou_page
    from clipfeed.recs.viewers import FeedViewer

    page = await foryou_page(FeedViewer.anonymous(viewer.device), cursor=cursor, limit=10, services=services)
    return [r.clip_id for r in page.items], page.next_cursor


async def popularity_feed(viewer: SimViewer, cursor: str | None, *, services: Services) -> tuple[list[int], str | None]:
    """Most engaged first (the feed's own global popularity), then newest; nothing twice."""
    from clipfeed.recs.cards import RECENT_POOL

    key = f"sim:popseen:{viewer.device}"
    ranked = [int(m) for m, _ in await services.cache.ztop("recs:popular:global", 400)]
    ranked += [int(m) for m, _ in await services.cache.ztop(RECENT_POOL, 2000)]
    ranked = list(dict.fromkeys(ranked))
    shown = await services.cache.sismember_many(key, [str(c) for c in ranked])
    page = [c for c, was in zip(ranked, shown, strict=True) if not was][:10]
    if page:
        await services.cache.sadd(key, *(str(c) for c in page))
    return page, "next"


class World:
    def __init__(self, services: Services, rng: np.random.Generator) -> None:
        self.services = services
        self.rng = rng
        self.topic: dict[int, int] = {}
        self.quality: dict[int, float] = {}
        self.published: dict[int, int] = {}
        self.creators: list[int] = []

    async def add_clips(self, count: int, round_: int, *, fresh: bool = True) -> list[int]:
        from clipfeed.accounts.models import User
        from clipfeed.clips.models import Clip
        from clipfeed.recs.worker import index_clips

        services = self.services
        if not self.creators:
            users = [User(id=services.ids.next_id(), handle=f"sim{n}", email=None, display_name="", role="user")
                     for n in range(40)]
            async with services.db.session() as session:
                session.add_all(users)
            self.creators = [u.id for u in users]
        clips = []
        now = datetime.now(UTC) - timedelta(hours=8 - round_)
        for _ in range(count):
            topic = int(self.rng.integers(len(TOPICS)))
            creator = self.creators[int(self.rng.integers(len(self.creators)))]
            clip = Clip(id=services.ids.next_id(), owner_id=creator, caption=f"{TOPICS[topic]} clip",
                        hashtags=[TOPICS[topic]], visibility="public", status="ready", media={},
                        duration_ms=DURATION_MS, published_at=now, created_at=now)
            clips.append(clip)
            self.topic[clip.id] = topic
            self.quality[clip.id] = float(self.rng.beta(2, 2))
            self.published[clip.id] = round_
        async with services.db.session() as session:
            session.add_all(clips)
        await index_clips(clips, fresh=fresh, services=services)
        return [c.id for c in clips]


async def _session(world: World, viewer: SimViewer, feed: Feed, rng: np.random.Generator, round_: int,
                   metrics: Metrics, *, since_shift: int | None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    watched_s, skips_in_row, page_no = 0.0, 0, 0
    recent_topics: list[int] = []
    session = f"s{round_}{viewer.device[-6:]}"
    tracked = since_shift is not None and viewer.shifted_to is not None
    while skips_in_row < viewer.patience and page_no < 6:
        clips, cursor = await feed(viewer, cursor, services=world.services)
        if not clips:
            break
        page_no += 1
        topics = [world.topic.get(c, 0) for c in clips]
        metrics.diversity.append(len(set(topics)))
        if tracked and since_shift is not None:
            metrics.shift_shown[since_shift] = metrics.shift_shown.get(since_shift, 0) + len(topics)
            metrics.shift_hits[since_shift] = (metrics.shift_hits.get(since_shift, 0)
                                               + sum(t == viewer.shifted_to for t in topics))
        for clip_id, topic in zip(clips, topics, strict=True):
            metrics.impressions += 1
            arrived = world.published.get(clip_id, -1)
            if arrived == round_:
                metrics.fresh_impressions += 1
            if arrived >= 0:
                metrics.new_clips_shown.add(clip_id)
            repeats = sum(t == topic for t in recent_topics[-5:])
            recent_topics.append(topic)
            stamp = int(time.time() * 1000)
            base = {"clip_id": str(clip_id), "ts": stamp, "session_id": session, "device": "android"}
            events.append({**base, "event_id": f"i{clip_id}{viewer.device}", "type": "impression"})
            if rng.random() < viewer.appeal(topic, world.quality.get(clip_id, 0.5), repeats):
                watched_s += DURATION_MS / 1000
                skips_in_row = 0
                events.append({**base, "event_id": f"c{clip_id}{viewer.device}", "type": "complete",
                               "watch_ms": DURATION_MS, "duration_ms": DURATION_MS})
            else:
                position = int(rng.uniform(500, 4000))
                watched_s += position / 1000
                skips_in_row += 1
                events.append({**base, "event_id": f"s{clip_id}{viewer.device}", "type": "skip",
                               "position_ms": position, "watch_ms": position, "duration_ms": DURATION_MS})
            if skips_in_row >= viewer.patience:
                break
    metrics.watch_s.append(watched_s)
    return events


async def simulate(feed: Feed, *, users: int, sessions: int, seed: int, data_dir: Path,
                   catalogue: int = 1500, arrivals: int = 60, train_after: int = 2) -> Metrics:
    from clipfeed.bootstrap import bootstrap
    from clipfeed.infra.db.migrate import upgrade
    from clipfeed.recs.worker import processors_running
    from clipfeed.settings import Settings

    settings = Settings(data_dir=data_dir, log_json=False, cache_url="memory://?max_items=2000000",
                        feed_buffer_stale_s=3600.0)
    upgrade(settings.resolve(settings.database_url))
    services = await bootstrap(settings)
    rng = np.random.default_rng(seed)
    metrics = Metrics()
    try:
        async with processors_running(services=services):
            await _rounds(feed, metrics, rng, users=users, sessions=sessions, seed=seed, catalogue=catalogue,
                          arrivals=arrivals, train_after=train_after, services=services)
    finally:
        await services.close()
    return metrics


async def _rounds(feed: Feed, metrics: Metrics, rng: np.random.Generator, *, services: Services, users: int,
                  sessions: int, seed: int, catalogue: int, arrivals: int, train_after: int) -> None:
    from clipfeed.events import service as events_service
    from clipfeed.recs import training

    world = World(services, rng)
    await world.add_clips(catalogue, round_=-1, fresh=False)  # the established catalogue
    viewers = []
    for n in range(users):
        taste = rng.dirichlet(np.full(len(TOPICS), 0.3))
        viewers.append(SimViewer(f"sim-device-{seed}-{n}", taste, patience=int(rng.integers(3, 6))))
    for round_ in range(sessions):
        new = await world.add_clips(arrivals, round_)
        metrics.new_clips += len(new)
        shift = round_ == sessions // 2
        if shift:
            for viewer in viewers[::3]:
                target = int(np.argmin(viewer.taste))
                viewer.taste = np.full(len(TOPICS), 0.02)
                viewer.taste[target] = 1.0
                viewer.taste /= viewer.taste.sum()
                viewer.shifted_to = target
        streams = [np.random.default_rng([seed, round_, n]) for n in range(users)]
        batches = await asyncio.gather(*(
            _session(world, v, feed, streams[n], round_, metrics,
                     since_shift=round_ - sessions // 2 if round_ >= sessions // 2 else None)
            for n, v in enumerate(viewers)))
        for viewer, batch in zip(viewers, batches, strict=True):
            for start in range(0, len(batch), 200):
                await events_service.ingest(services=services, raw_events=batch[start:start + 200],
                                            viewer=ViewerId.anonymous(viewer.device),
                                            region=services.settings.region)
        await asyncio.sleep(1.5)  # the processors' lag: feedback lands before the next session
        if round_ + 1 == train_after:
            await training.close_impressions(older_than=0, services=services)
            await training.train(min_rows=100, services=services)


async def run_comparison(*, users: int = 60, sessions: int = 6, seed: int = 7, **kwargs: Any) -> Report:
    rows = {}
    for name, feed in (("clipfeed", clipfeed_feed), ("popularity", popularity_feed)):
        with tempfile.TemporaryDirectory(prefix=f"clipfeed-sim-{name}-") as tmp:
            metrics = await simulate(feed, users=users, sessions=sessions, seed=seed, data_dir=Path(tmp), **kwargs)
        rows[name] = metrics.summary()
    return Report(rows)
