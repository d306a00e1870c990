"""The relevance catalogue written to the tables in bulk and indexed (as a reindex would)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from clipfeed.accounts.models import User
from clipfeed.clips.models import Clip, normalise_hashtags
from tests.search import relevance
from tests.search.support import reindex


async def seed(*, services: Any) -> dict[int, str]:
    """Creators and clips of ``relevance``; returns clip ID -> key (filler clips: ``filler:n``)."""
    rng = random.Random(5)
    now = datetime.now(UTC)
    users = {handle: User(id=services.ids.next_id(), handle=handle, email=None, display_name=name, role="user",
                          language=language) for handle, (name, language) in relevance.CREATORS.items()}
    rows = [(key, *spec) for key, spec in relevance.CLIPS.items()]
    rows += [(f"filler:{n}", *spec) for n, spec in enumerate(relevance.filler())]
    keys: dict[int, str] = {}
    clips = []
    for key, handle, caption, tags in rows:
        published = now - timedelta(hours=rng.uniform(1, 24 * 60))
        clip = Clip(id=services.ids.next_id(), owner_id=users[handle].id, caption=caption,
                    hashtags=normalise_hashtags(tags, caption), visibility="public", status="ready", media={},
                    duration_ms=rng.randint(5, 90) * 1000, published_at=published, created_at=published)
        clips.append(clip)
        keys[clip.id] = key
    async with services.db.session() as session:
        session.add_all(list(users.values()))
    async with services.db.session() as session:
        session.add_all(clips)
    assert await reindex(services=services) == len(clips)
    return keys
