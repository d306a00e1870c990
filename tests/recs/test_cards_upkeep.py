"""Clip cards and pools the cache lost come back by themselves: the stream role's upkeep finds
them missing, rebuilds them one process at a time, and the feed serves those clips again with
nobody running ``clipfeed recs reindex`` (``clipfeed.recs.upkeep``)."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as redis
from prometheus_client import REGISTRY

from clipfeed.accounts import service as accounts
from clipfeed.bootstrap import bootstrap
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipUpdate, Visibility
from clipfeed.infra.cache.redis_node import split_url
from clipfeed.recs.cards import FRESH_POOL, RECENT_POOL, card_key, creator_key, get_cards, tag_key
from clipfeed.recs.indexing import rebuild_cards
from clipfeed.recs.render_keys import view_key
from clipfeed.recs.upkeep import RESTING, heal_once, rebuild_lease
from tests.conftest import stack_settings
from tests.helpers import signup
from tests.recs.conftest import seed_catalogue

TAGS = ["cats", "dogs", "food"]


@pytest.fixture(params=["embedded", "real", "ring"])
def stack(request: pytest.FixtureRequest) -> str:
    """The two stacks, and ``ring``: the real one with its cache spread over two nodes."""
    return str(request.param)


@pytest.fixture
def settings(stack: str, tmp_path, request: pytest.FixtureRequest):
    marker = request.node.get_closest_marker("settings")
    overrides = marker.kwargs if marker else {}
    if stack != "ring":
        return stack_settings(stack, tmp_path, request, **overrides)
    real = stack_settings("real", tmp_path, request, **overrides)
    node, _, query = real.cache_url.partition("?")
    server = node.rsplit("/", 1)[0]  # two databases of one Redis server: two nodes of a ring
    return real.model_copy(update={"cache_url": f"{server}/13?{query},{server}/14?{query}"})


def _rebuilt() -> float:
    return REGISTRY.get_sample_value("clipfeed_feed_cards_rebuilt_total") or 0.0


async def _lose_cards(services, clips: dict[int, Clip]) -> None:
    """Every card, rendered view and pool of the catalogue goes, as with an emptied cache."""
    keys = [RECENT_POOL, FRESH_POOL, *(card_key(c) for c in clips), *(view_key(c) for c in clips),
            *{creator_key(c.owner_id) for c in clips.values()},
            *{tag_key(t) for c in clips.values() for t in c.hashtags}]
    await services.cache.delete(*keys)


async def _empty_node(cache_url: str) -> int:
    """Empty the ring's first node as a process taking it back does (SCAN and UNLINK of the
    cache's prefix); returns how many keys it held."""
    connect_url, _, prefix = split_url(cache_url.split(",")[0])
    node = redis.Redis.from_url(connect_url)
    try:
        keys = [key async for key in node.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await node.unlink(*keys)
        return len(keys)
    finally:
        await node.aclose()


async def _rebuilt_by_upkeep(services, clips: dict[int, Clip], *, since: float, within_s: float = 60.0) -> None:
    """Wait until a rebuild has finished (its count reported) and every card is back."""
    deadline = time.monotonic() + within_s
    while _rebuilt() - since < len(clips) or len(await get_cards(services.cache, list(clips))) < len(clips):
        assert time.monotonic() < deadline, "the cards did not come back"
        await asyncio.sleep(0.1)


async def _whole_feed(client, handle: str) -> set[int]:
    """Every clip a new viewer is served, page after page, until the feed runs dry."""
    viewer = await signup(client, handle)
    shown: set[int] = set()
    cursor = None
    for _ in range(20):
        response = await client.get("/v1/feed", params={"limit": 20, **({"cursor": cursor} if cursor else {})},
                                    headers=viewer.auth)
        assert response.status_code == 200, response.text
        page = response.json()
        shown |= {int(item["clip"]["id"]) for item in page["items"]}
        cursor = page["next_cursor"]
        if not page["items"] or not cursor:
            break
    return shown


@pytest.mark.settings(feed_cards_check_interval_s=0.5)
async def test_clips_whose_cards_the_cache_lost_are_served_again_with_no_operator_step(
        client, services, stack, feed_workers) -> None:
    clips = await seed_catalogue(creators=4, clips_per_creator=10, tags=TAGS, services=services)
    assert await _whole_feed(client, "before_the_loss") == set(clips)
    rebuilt = _rebuilt()
    if stack == "ring":  # a node of the ring comes back empty: about half the cards go
        assert await _empty_node(services.settings.cache_url) > 0
        assert len(await get_cards(services.cache, list(clips))) < len(clips)
    else:
        await _lose_cards(services, clips)
    await _rebuilt_by_upkeep(services, clips, since=rebuilt)  # nobody ran `clipfeed recs reindex`
    assert await _whole_feed(client, "after_the_loss") == set(clips)


@pytest.mark.parametrize("stack", ["embedded", "real"], indirect=True)
async def test_two_workers_never_rebuild_the_cards_at_once(services, stack) -> None:
    clips = await seed_catalogue(creators=3, clips_per_creator=20, tags=TAGS, services=services)
    await _lose_cards(services, clips)
    # A second stream worker: another process on the same engines (the embedded cache lives in
    # one process, so there a second loop of the same one).
    other = services if stack == "embedded" else await bootstrap(services.settings)
    try:
        async with rebuild_lease(other.cache) as lease:  # the other one is rebuilding
            assert lease is not None
            assert await heal_once(services=services) == "busy"
            assert await get_cards(services.cache, list(clips)) == {}
        rebuilt = _rebuilt()
        outcomes = await asyncio.gather(heal_once(services=services, batch=7), heal_once(services=other, batch=7))
        assert outcomes.count("rebuilt") == 1, outcomes  # the other: busy, resting or whole
        assert _rebuilt() - rebuilt == len(clips)  # one rebuild's worth, not two
        assert len(await get_cards(services.cache, list(clips))) == len(clips)
        assert await heal_once(services=other) == "whole"
    finally:
        if other is not services:
            await other.close()


@pytest.mark.parametrize("stack", ["embedded", "real"], indirect=True)
async def test_a_rebuild_cut_short_is_finished_by_the_next_check_and_a_lost_pool_alone_is_found(services) -> None:
    clips = await seed_catalogue(creators=3, clips_per_creator=10, tags=TAGS, services=services)
    await _lose_cards(services, clips)

    async def killed(total: int) -> bool:
        return False  # the process dies after its first batch

    assert await rebuild_cards(services=services, batch=8, step=killed) == 8
    assert await heal_once(services=services) == "rebuilt"
    assert len(await get_cards(services.cache, list(clips))) == len(clips)
    assert await services.cache.zcard(RECENT_POOL) == len(clips)  # written twice, held once
    await services.cache.delete(RECENT_POOL, RESTING)  # one key lost, later on
    assert await heal_once(services=services) == "rebuilt"
    assert await services.cache.zcard(RECENT_POOL) == len(clips)


@pytest.mark.parametrize("stack", ["embedded", "real"], indirect=True)
async def test_a_rebuild_brings_back_no_clip_the_indexer_took_out(services) -> None:
    clips = await seed_catalogue(creators=2, clips_per_creator=5, tags=TAGS, services=services)
    suspended, kept = sorted({c.owner_id for c in clips.values()})
    await accounts.set_suspended(db=services.db, cache=services.cache, outbox=services.outbox, user_id=suspended,
                                 suspended=True, reason="test")
    private = next(c for c in clips.values() if c.owner_id == kept)
    await clips_service.update(db=services.db, outbox=services.outbox, clip_id=private.id, user_id=kept,
                               request=ClipUpdate(visibility=Visibility.private))
    await _lose_cards(services, clips)
    assert await rebuild_cards(services=services) == 4
    assert set(await get_cards(services.cache, list(clips))) == {
        c.id for c in clips.values() if c.owner_id == kept and c.id != private.id}
