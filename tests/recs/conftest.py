"""Fixtures of the feed tests: a catalogue inserted in bulk, and the feed's processors running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from clipfeed.accounts.models import User
from clipfeed.clips.models import Clip
from clipfeed.recs.indexing import index_clips
from clipfeed.recs.worker import processors_running


async def seed_catalogue(*, services, creators: int, clips_per_creator: int,
                         tags: list[str], start: datetime | None = None) -> dict[int, Clip]:
    """Ready public clips, inserted straight into the tables and indexed for the feed as an
    established catalogue (not in the fresh pool, last changed at ``start``); clip ``n``
    carries hashtag ``tags[n % len(tags)]``."""
    start = start or datetime.now(UTC) - timedelta(days=2)
    users = [User(id=services.ids.next_id(), handle=f"creator{n}_{services.ids.next_id() % 10**6}",
                  email=None, display_name="", role="user") for n in range(creators)]
    clips: dict[int, Clip] = {}
    number = 0
    for round_ in range(clips_per_creator):
        for user in users:
            tag = tags[number % len(tags)]
            clip = Clip(id=services.ids.next_id(), owner_id=user.id, caption=f"clip {number} #{tag}", hashtags=[tag],
                        visibility="public", status="ready", media={}, duration_ms=15_000,
                        published_at=start + timedelta(seconds=number), created_at=start,
                        updated_at=start)
            clips[clip.id] = clip
            number += 1
        del round_
    async with services.db.session() as session:
        session.add_all(users)
    async with services.db.session() as session:
        session.add_all(list(clips.values()))
    await index_clips(list(clips.values()), fresh=False, services=services)
    return clips


@pytest.fixture
async def feed_workers(*, services) -> AsyncIterator[None]:
    """The feed's stream processors and loops, as ``clipfeed worker stream`` runs them."""
    async with processors_running(services=services):
        yield
