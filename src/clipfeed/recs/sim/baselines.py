"""Baseline feeds that rank on the client, from what any client of the server may read.

Each reads the catalogue over HTTP (``GET /v1/clips/{id}``: caption, hashtags, creator; never a
clip's hidden topic or quality) and learns from the same events the viewers' apps post to
``POST /v1/events`` (every arm sees all the traffic, as arms of a live A/B test share the
platform's logs). They serve the same candidates For You may serve (every ready public clip)
and never serve a viewer a clip twice. Ranking on the client keeps the server's code untouched
by baselines; its only cost is that a baseline's page is not shaped by the server's filters
for mutes and blocks, which simulated viewers never use."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import httpx
import numpy as np

from clipfeed.recs.sim import client
from clipfeed.recs.sim.arms import PAGE
from clipfeed.recs.sim.client import Account, ClipCard

PRIOR_WEIGHT = 5.0  # impressions' worth of the catalogue's mean rate each clip starts with


def _outcome(events: list[dict[str, Any]]) -> str:
    return str(events[-1]["type"])  # complete | progress | skip (client.playback_events' last)


class ClientArm:
    """The catalogue, exposure-normalised engagement for all, and served clips per viewer."""

    name = "client"

    def __init__(self) -> None:
        self.catalogue: dict[int, ClipCard] = {}
        self.impressions: dict[int, int] = defaultdict(int)
        self.engaged: dict[int, float] = defaultdict(float)   # completions and likes
        self.served: dict[int, set[int]] = defaultdict(set)
        self.total_impressions = 0
        self.total_engaged = 0.0
        self.rng = np.random.default_rng(sum(map(ord, self.name)))

    async def catalogue_grew(self, http: httpx.AsyncClient, clip_ids: list[int]) -> None:
        gate = asyncio.Semaphore(8)

        async def read(clip_id: int) -> None:
            async with gate:
                card = await client.clip(http, clip_id)
            if card is not None:
                self.catalogue[card.id] = card

        await asyncio.gather(*(read(c) for c in clip_ids))

    def popularity(self, clip_id: int) -> float:
        """Likes and completions per impression, shrunk towards the catalogue's mean rate."""
        prior = self.total_engaged / self.total_impressions if self.total_impressions else 0.5
        return (self.engaged[clip_id] + PRIOR_WEIGHT * prior) / (self.impressions[clip_id] + PRIOR_WEIGHT)

    def observe(self, account: Account, card: ClipCard, events: list[dict[str, Any]], *, liked: bool,
                session_id: str) -> None:
        engaged = (_outcome(events) == "complete") + liked
        self.impressions[card.id] += 1
        self.engaged[card.id] += engaged
        self.total_impressions += 1
        self.total_engaged += engaged
        self.learn(account, card, _outcome(events), liked=liked, session_id=session_id)

    def learn(self, account: Account, card: ClipCard, outcome: str, *, liked: bool, session_id: str) -> None:
        """What an arm keeps beyond popularity (per viewer, per session)."""

    def score(self, account: Account, card: ClipCard, session_id: str) -> float:
        return self.popularity(card.id)

    def prepare(self, account: Account, session_id: str) -> None:
        """Called once before scoring a page (a bandit draws its samples here)."""

    def ranked(self, account: Account, session_id: str, count: int, *, leave_out: set[int]) -> list[ClipCard]:
        """The ``count`` best clips this viewer was never served."""
        served = self.served[account.user_id]
        self.prepare(account, session_id)
        candidates = [c for c in self.catalogue.values() if c.id not in served and c.id not in leave_out]
        candidates.sort(key=lambda c: (self.score(account, c, session_id), c.id), reverse=True)
        return candidates[:count]

    async def page(self, http: httpx.AsyncClient, account: Account, cursor: str | None,
                   session_id: str) -> tuple[list[ClipCard], str | None, str]:
        chosen = self.ranked(account, session_id, PAGE, leave_out=set())
        self.served[account.user_id].update(c.id for c in chosen)
        return chosen, "next", self.name


class Popularity(ClientArm):
    """Exposure-normalised popularity: the same page for everyone, minus what they saw."""

    name = "popularity"


class Trending(ClientArm):
    """The server's trending clips (``GET /v1/trending``: the stream's decayed scores), then
    exposure-normalised popularity once the viewer has seen them."""

    name = "trending"

    async def page(self, http: httpx.AsyncClient, account: Account, cursor: str | None,
                   session_id: str) -> tuple[list[ClipCard], str | None, str]:
        served = self.served[account.user_id]
        response = await http.get("/v1/trending", params={"limit": 50}, headers=account.headers)
        listed = [int(i["clip"]["id"]) for i in response.json()["items"]] if response.status_code == 200 else []
        chosen = [self.catalogue[c] for c in listed if c in self.catalogue and c not in served][:PAGE]
        chosen += self.ranked(account, session_id, PAGE - len(chosen), leave_out={c.id for c in chosen})
        served.update(c.id for c in chosen)
        return chosen, "next", self.name
