"""One simulated run: a scratch server per seed, the same viewers (same hidden tastes and random
streams) on every arm, events posted after every clip."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import numpy as np

from clipfeed.recs.sim import client
from clipfeed.recs.sim.arms import Arm
from clipfeed.recs.sim.report import Report, Tally
from clipfeed.recs.sim.stack import Publisher, ScratchServer
from clipfeed.recs.sim.world import DURATION_MS, SimClip, SimViewer, WorldConfig, new_clip, new_viewer

CONCURRENT_VIEWERS = 4  # viewers in a session at once: the machine's cores, not the server, are the limit


class World:
    """The hidden side of one run: the clips published so far and the viewers."""

    def __init__(self, config: WorldConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.creators = config.creators
        self.viewers: list[SimViewer] = [new_viewer(n, self.rng, config, config.creators)
                                         for n in range(config.viewers)]
        self.clips: dict[int, SimClip] = {}

    async def publish(self, publisher: Publisher, *, count: int, arrived: int, new_creators: int) -> list[int]:
        for _ in range(new_creators):
            self.creators += 1
        while len(publisher.creator_ids) < self.creators:
            await publisher.add_creator()
        ids = []
        for _ in range(count):
            clip = new_clip(self.rng, self.config, creators=self.creators, arrived=arrived)
            clip_id = await publisher.publish(creator=clip.creator, caption=clip.caption, duration_ms=DURATION_MS)
            self.clips[clip_id] = clip
            ids.append(clip_id)
        await publisher.flush()
        return ids


async def _viewing(world: World, arm: Arm, every_arm: Sequence[Arm], http: httpx.AsyncClient,
                   account: client.Account, viewer: SimViewer, publisher: Publisher, tally: Tally, *, session: int,
                   rng: np.random.Generator) -> None:
    session_id = f"sim{world.seed}s{session}v{viewer.number}"
    watched_s, skips_in_row, shown = 0.0, 0, 0
    recent: list[int] = []
    cursor: str | None = None
    while skips_in_row < viewer.patience and shown < world.config.max_clips:
        cards, cursor, served_by = await arm.page(http, account, cursor, session_id)
        tally.pages += 1
        tally.served_by[served_by] = tally.served_by.get(served_by, 0) + 1
        if not cards:
            break
        for card in cards:
            clip = world.clips.get(card.id)
            if clip is None:
                continue
            shown += 1
            tally.impressions += 1
            tally.repeats += card.id in account.seen
            account.seen.add(card.id)
            tally.favourite_hits += clip.topic == viewer.favourite
            tally.new_impressions += clip.arrived >= 0
            if viewer.shifted:
                tally.shifted_shown += 1
                tally.shifted_hits += clip.topic == viewer.shift_to
                if session == world.config.sessions // 2 + 1:
                    tally.second_shown += 1
                    tally.second_hits += clip.topic == viewer.shift_to
            completed = rng.random() < viewer.appeal(clip, sum(t == clip.topic for t in recent[-5:]))
            recent.append(clip.topic)
            watched_ms = DURATION_MS if completed else int(rng.uniform(500, 5000))
            watched_s += watched_ms / 1000
            skips_in_row = 0 if completed else skips_in_row + 1
            events = client.playback_events(card, watched_ms=watched_ms, completed=completed,
                                            session_id=session_id, source="foryou")
            await client.send_events(http, account, events)
            liked = completed and rng.random() < 0.25 + 0.5 * clip.quality * viewer.taste[clip.topic] * 4
            if liked:
                await client.like(http, account, card.id)
                if viewer.creator_affinity.get(clip.creator, 0.0) > 0.8 and clip.creator not in viewer.follows:
                    viewer.follows.add(clip.creator)
                    await client.follow(http, account, publisher.creator_ids[clip.creator])
            for observer in every_arm:  # the platform's logs: every arm learns from all traffic
                observer.observe(account, card, events, liked=liked, session_id=session_id)
            if skips_in_row >= viewer.patience or shown >= world.config.max_clips:
                break
    tally.session_watch_s.append(watched_s)


async def _wait_until_served(http: httpx.AsyncClient, count: int, timeout: float = 120.0) -> None:
    """The stream worker indexes published clips within its lag; a new anonymous device asks."""
    deadline = time.monotonic() + timeout
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        page = (await http.get("/v1/feed", params={"limit": count},
                               headers={"X-Device-ID": f"simprobe{tries:05d}"})).json()
        if len(page.get("items", [])) >= count:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("the server did not index the catalogue")


async def run_seed(arms: Sequence[Arm], *, config: WorldConfig, seed: int, folder: Path,
                   progress: Callable[[str], None] = lambda _: None) -> dict[str, Tally]:
    """Every arm on one fresh server, as arms of a live A/B test: each hidden viewer has one
    account per arm (the same tastes and random streams), and every arm sees all the traffic."""
    world = World(config, seed)
    server = ScratchServer(folder)
    progress(f"seed {seed}: starting clipfeed serve")
    await asyncio.to_thread(server.start)
    tallies = {arm.name: Tally() for arm in arms}
    try:
        publisher = await Publisher.open(server)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                catalogue = await world.publish(publisher, count=config.catalogue, arrived=-1, new_creators=0)
                await _wait_until_served(http, min(20, config.catalogue))
                accounts = {arm.name: [await client.register(http, number=v.number, prefix=f"a{i}s{seed}")
                                       for v in world.viewers] for i, arm in enumerate(arms)}
                for arm in arms:
                    await arm.catalogue_grew(http, catalogue)
                for session in range(config.sessions):
                    progress(f"seed {seed}: session {session + 1}/{config.sessions}")
                    arrivals = await world.publish(publisher, count=config.arrivals, arrived=session,
                                                   new_creators=config.new_creators)
                    await asyncio.sleep(1.0)  # the stream worker's lag: new clips are indexed
                    for arm in arms:
                        await arm.catalogue_grew(http, arrivals)
                    if session == config.sessions // 2:
                        for viewer in world.viewers:
                            viewer.shift()
                    gate = asyncio.Semaphore(CONCURRENT_VIEWERS)

                    async def one(arm: Arm, n: int, session: int = session, gate: asyncio.Semaphore = gate) -> None:
                        async with gate:
                            rng = np.random.default_rng([seed, session, n])  # the same stream on every arm
                            await _viewing(world, arm, arms, http, accounts[arm.name][n], world.viewers[n],
                                           publisher, tallies[arm.name], session=session, rng=rng)

                    await asyncio.gather(*(one(arm, n) for n in range(len(world.viewers)) for arm in arms))
                for arm in arms:
                    tallies[arm.name].refused = sum(a.refused for a in accounts[arm.name])
        finally:
            await publisher.close()
    finally:
        await asyncio.to_thread(server.stop)
    return tallies


async def run_comparison(arms: Sequence[Callable[[], Arm]], *, config: WorldConfig, seeds: Sequence[int],
                         progress: Callable[[str], None] = lambda _: None) -> Report:
    """Every arm on every seed; one scratch server per seed."""
    tallies: dict[str, list[Tally]] = {}
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix="clipfeed-sim-") as tmp:
            found = await run_seed([make() for make in arms], config=config, seed=seed, folder=Path(tmp),
                                   progress=progress)
        for name, tally in found.items():
            tallies.setdefault(name, []).append(tally)
    return Report(tallies)
