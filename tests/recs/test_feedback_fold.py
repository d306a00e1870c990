"""The worker's batched feedback fold against the same events folded one at a time, on the
in-process cache and on Redis."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from clipfeed.infra.cache import Cache, open_cache
from clipfeed.recs import training
from clipfeed.recs.cards import FRESH_POOL, ClipCard, put_cards
from clipfeed.recs.feedback import Feedback, fold, refill_viewers
from clipfeed.recs.profile import ckey, dirty_key, known_key, ukey
from clipfeed.recs.viewers import FeedViewer

KINDS = ["impression", "progress", "leave", "complete", "replay", "skip", "share", "not_interested", "like",
         "comment"]
CLIPS = list(range(1, 13))


@pytest.fixture(params=["memory", "redis"])
async def caches(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Cache, Cache]]:
    if request.param == "memory":
        pair = (open_cache("memory://"), open_cache("memory://"))
    else:
        parts = urlsplit(request.getfixturevalue("redis_url"))
        server = f"{parts.scheme}://{parts.netloc}"
        pair = tuple(open_cache(f"{server}/12?prefix=fold-{uuid.uuid4().hex[:10]}:") for _ in range(2))
    try:
        yield pair
    finally:
        for cache in pair:
            await cache.flush()
            await cache.close()


async def _catalogue(cache: Cache, viewers: list[FeedViewer]) -> None:
    # Clip 12 has no card; impressions are open for most (viewer, clip) pairs, some discovery slots.
    await put_cards(cache, [ClipCard(c, 100 + c % 3, (f"t{c % 4}", "all"), 15_000, 1.0e9 + c,
                                     "en" if c % 2 else None, None, None) for c in CLIPS[:-1]])
    await cache.set_many({training.imp_key(v.key, c): orjson.dumps({"e": c % 3 == 0})
                          for v in viewers for c in CLIPS if (c + len(v.key)) % 5}, ttl=3600)


async def _state(cache: Cache, viewers: list[FeedViewer]) -> dict[str, Any]:
    found: dict[str, Any] = {"fresh": await cache.ztop(FRESH_POOL, 100)}
    for v in viewers:
        found[v.key] = [await cache.hget_many([ukey(v.key, p) for p in ("stats", "tags", "creators")]),
                        await cache.ztop(ukey(v.key, "recent"), 100), await cache.ztop(ukey(v.key, "negative"), 100),
                        await cache.smembers(ukey(v.key, "hidden")), await cache.get(known_key(v.key)),
                        await cache.get(dirty_key(v.key)) is not None,
                        await cache.hget_many([training.lab_key(v.key, c) for c in CLIPS])]
    found["clips"] = await cache.hget_many([ckey(c) for c in CLIPS])
    for key in ("recs:popular:global", "recs:popular:eu", "recs:popular:lang:en"):
        found[key] = await cache.ztop(key, 100)
    return found


def _close(left: Any, right: Any) -> None:
    """Equal, except float fields summed in another order may differ in the last digits."""
    if isinstance(left, dict):
        assert left.keys() == right.keys()
        for key in left:
            _close(left[key], right[key])
    elif isinstance(left, list | tuple):
        assert len(left) == len(right)
        for a, b in zip(left, right, strict=True):
            _close(a, b)
    elif isinstance(left, bytes) and left != b"1":
        assert float(left) == pytest.approx(float(right), rel=1e-9)
    else:
        assert left == right or left == pytest.approx(right, rel=1e-9)


async def test_a_batch_changes_the_state_exactly_as_its_events_one_by_one_and_a_redelivery_changes_nothing(
        caches: tuple[Cache, Cache]) -> None:
    reference, batched = caches
    viewers = [FeedViewer.signed_in(7, region="eu"), FeedViewer.anonymous("dev1", region="eu"),
               FeedViewer.signed_in(9, region="us")]
    rng = random.Random(5)
    events = [Feedback(n, rng.choice(viewers), rng.choice(CLIPS), rng.choice(KINDS), rng.choice([0, 0, 4200.0]),
                       1.7e9 + rng.random() * 100) for n in range(400)]
    events += events[10:15]  # seen twice in one batch
    for cache in caches:
        await _catalogue(cache, viewers)
    for e in events:  # one at a time: no summing, no planning across events
        await fold(reference, [e], fresh_impressions=8)
    applied = await fold(batched, events[:150], fresh_impressions=8)
    applied += await fold(batched, events[150:], fresh_impressions=8)
    assert [e.event_id for e in applied] == list(range(400))
    expected = await _state(reference, viewers)
    assert expected["fresh"] != [] and len(expected["fresh"]) < len(CLIPS) - 1  # some clips left the pool
    _close(await _state(batched, viewers), expected)
    assert await fold(batched, events[100:300], fresh_impressions=8) == []
    _close(await _state(batched, viewers), expected)
    assert {v.key for v in refill_viewers(applied)} == {v.key for v in viewers}


async def test_a_failed_read_releases_the_claims_so_the_redelivery_applies_the_events(
        caches: tuple[Cache, Cache], monkeypatch: pytest.MonkeyPatch) -> None:
    cache = caches[1]
    viewer = FeedViewer.signed_in(7, region="eu")
    await _catalogue(cache, [viewer])
    events = [Feedback(n, viewer, 1, "like") for n in range(3)]

    async def unreachable(keys: list[str]) -> list[dict[str, bytes]]:
        raise ConnectionError("cache went away")

    with monkeypatch.context() as patch:
        patch.setattr(cache, "hget_many", unreachable)
        with pytest.raises(ConnectionError):
            await fold(cache, events)
    assert await cache.hgetall(ukey(viewer.key, "stats")) == {}
    assert len(await fold(cache, events)) == 3
    assert float((await cache.hgetall(ukey(viewer.key, "stats")))["like"]) == 3


async def test_a_leave_marks_the_buffer_for_a_re_rank_and_a_skip_also_for_a_rebuild(
        caches: tuple[Cache, Cache]) -> None:
    cache = caches[1]
    left, skipped = FeedViewer.signed_in(7, region="eu"), FeedViewer.signed_in(9, region="eu")
    await _catalogue(cache, [left, skipped])
    applied = await fold(cache, [Feedback(1, left, 1, "leave", 3000.0), Feedback(2, skipped, 2, "skip", 800.0)])
    for viewer, clip_id in ((left, 1), (skipped, 2)):
        assert await cache.get(dirty_key(viewer.key)) is not None
        assert [int(m) for m, _ in await cache.ztop(ukey(viewer.key, "negative"), 10)] == [clip_id]
    assert [v.key for v in refill_viewers(applied)] == [skipped.key]
