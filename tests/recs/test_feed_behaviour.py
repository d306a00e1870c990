"""What a viewer notices about the feed: it never repeats, respects blocks and deletions,
picks up new clips quickly, and moves away from what they skip."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipCreate, ClipStatus, ClipUpdate
from clipfeed.recs import buffer as buffers
from clipfeed.recs import feed
from clipfeed.recs.feedback import Feedback, fold
from clipfeed.recs.viewers import FeedViewer, links_key
from clipfeed.social import blocks
from tests.helpers import signup
from tests.recs.conftest import seed_catalogue

TAGS = ["cats", "dogs", "food", "skate", "music"]


async def _page(client, account, cursor=None, limit=10):
    response = await client.get("/v1/feed", params={"limit": limit, **({"cursor": cursor} if cursor else {})},
                                headers=account.auth)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_no_clip_repeats_across_500_pages(client, services) -> None:
    await seed_catalogue(creators=60, clips_per_creator=100, tags=TAGS, services=services)
    viewer = await signup(client, "bingewatcher")
    shown: list[str] = []
    cursor = None
    for _ in range(500):
        page = await _page(client, viewer, cursor)
        assert len(page["items"]) == 10
        shown += [item["clip"]["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert len(shown) == 5000 and len(set(shown)) == 5000


async def test_blocked_creators_never_appear_even_from_a_buffer(client, services, feed_workers) -> None:
    clips = await seed_catalogue(creators=6, clips_per_creator=60, tags=TAGS, services=services)
    viewer = await signup(client, "blocker")
    first = await _page(client, viewer)  # builds a buffer that holds the creator's clips
    owners = {int(item["clip"]["owner_id"]) for item in first["items"]}
    target = next(iter(owners))
    users = await accounts.get_many(db=services.db, user_ids=[viewer.id, target])
    await blocks.block(services=services, blocker=users[viewer.id], blocked=users[target])
    deadline = time.monotonic() + 30
    while await services.cache.get(links_key(f"u:{viewer.id}")) is not None:  # the worker saw the block
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    shown_after: list[int] = []
    cursor = first["next_cursor"]
    for _ in range(6):
        page = await _page(client, viewer, cursor)
        cursor = page["next_cursor"]
        shown_after += [int(item["clip"]["owner_id"]) for item in page["items"]]
    assert len(shown_after) == 60 and target not in shown_after
    assert sum(1 for c in clips.values() if c.owner_id == target) == 60


async def test_pages_stay_full_until_every_allowed_clip_has_been_served(client, services) -> None:
    # A catalogue smaller than the sources' quotas: builds read it in windows, and a page must
    # not come out short while unseen clips sit outside the window a build happened to read.
    clips = await seed_catalogue(creators=6, clips_per_creator=10, tags=TAGS, services=services)
    viewer = await signup(client, "completist")
    first = await _page(client, viewer)
    target = int(first["items"][0]["clip"]["owner_id"])
    users = await accounts.get_many(db=services.db, user_ids=[viewer.id, target])
    await blocks.block(services=services, blocker=users[viewer.id], blocked=users[target])
    await services.cache.delete(links_key(f"u:{viewer.id}"))  # as the stream worker does on the block
    shown_first = {int(i["clip"]["id"]) for i in first["items"]}
    allowed = {c.id for c in clips.values() if c.owner_id != target} - shown_first
    sizes: list[int] = []
    served: list[int] = []
    cursor = first["next_cursor"]
    while cursor and len(sizes) < 10:
        page = await _page(client, viewer, cursor)
        sizes.append(len(page["items"]))
        served += [int(i["clip"]["id"]) for i in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(served) == sorted(allowed)  # every one of them, once, and nothing else
    full, rest = divmod(len(allowed), 10)
    assert sizes[:full] == [10] * full and sizes[full:full + 1] == ([rest] if rest else [0])


async def test_a_new_clip_reaches_some_feeds_within_a_minute(client, services, feed_workers) -> None:
    await seed_catalogue(creators=10, clips_per_creator=20, tags=TAGS, services=services)
    creator = await signup(client, "newcomer")
    draft = await clips_service.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                             owner_id=creator.id, request=ClipCreate(caption="first clip #premiere"))
    published = time.monotonic()
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=draft.id,
                                   status=ClipStatus.ready, technical={"duration_ms": 12_000})
    reached = None
    while reached is None and time.monotonic() - published < 60:
        for _ in range(5):  # new viewers, each opening the app
            response = await client.get("/v1/feed", headers={"X-Device-ID": uuid.uuid4().hex})
            assert response.status_code == 200, response.text
            if str(draft.id) in {item["clip"]["id"] for item in response.json()["items"]}:
                reached = time.monotonic() - published
                break
        await asyncio.sleep(0.3)
    assert reached is not None and reached < 60


async def test_a_skip_heavy_viewer_sees_fewer_clips_like_the_skipped_ones(client, services, feed_workers) -> None:
    await seed_catalogue(creators=30, clips_per_creator=20, tags=["cats", "dogs"], services=services)
    viewer = await signup(client, "dogperson")
    first = await _page(client, viewer, limit=20)
    cats_before = [i for i in first["items"] if "cats" in i["clip"]["hashtags"]]
    assert len(cats_before) >= 5
    now = int(time.time() * 1000)
    events = [{"event_id": uuid.uuid4().hex, "type": "skip", "clip_id": item["clip"]["id"], "ts": now,
               "session_id": "s1", "position_ms": 800, "watch_ms": 800}
              for item in cats_before]
    events += [{"event_id": uuid.uuid4().hex, "type": "complete", "clip_id": item["clip"]["id"], "ts": now,
                "session_id": "s1", "watch_ms": 15_000} for item in first["items"] if item not in cats_before]
    response = await client.post("/v1/events", json={"events": events}, headers=viewer.auth)
    assert response.status_code in (200, 202), response.text
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # until the stream worker has folded the skips in
        state = await services.cache.hgetall(f"recs:u:u:{viewer.id}:stats")
        if state.get("skip") and float(state["skip"]) >= len(cats_before):
            break
        await asyncio.sleep(0.2)
    second = await _page(client, viewer, first["next_cursor"], limit=20)
    cats_after = [i for i in second["items"] if "cats" in i["clip"]["hashtags"]]
    assert len(cats_after) < len(cats_before) / 2, (len(cats_before), len(cats_after))


async def test_a_skip_reranks_the_buffer_so_the_next_page_drops_what_was_skipped(client, services) -> None:
    # No stream worker here: the skips are folded in directly, so no background refill races
    # the page and the buffer built by the first page is what the second one re-ranks.
    await seed_catalogue(creators=30, clips_per_creator=20, tags=["cats", "dogs"], services=services)
    viewer = await signup(client, "reranked")
    first = await _page(client, viewer)
    assert first["served_by"] == "cold_start"
    # Every clip carries one of the two tags, so the tag the first page holds more of has at
    # least five clips there whatever the cold start drew: the viewer skips all of those.
    skipped_tag = max(("cats", "dogs"), key=lambda tag: sum(tag in i["clip"]["hashtags"] for i in first["items"]))
    skipped = [int(i["clip"]["id"]) for i in first["items"] if skipped_tag in i["clip"]["hashtags"]]
    assert len(skipped) >= 5
    await fold(services.cache, [Feedback(services.ids.next_id(), FeedViewer.signed_in(viewer.id), clip_id, "skip", 700)
                                for clip_id in skipped])
    second = await _page(client, viewer, first["next_cursor"])
    assert second["served_by"] == "reranked"
    assert len(second["items"]) == 10
    assert not [i for i in second["items"] if skipped_tag in i["clip"]["hashtags"]]
    shown = {i["clip"]["id"] for i in first["items"]} | {i["clip"]["id"] for i in second["items"]}
    assert len(shown) == 20  # re-ranking never brings back a served clip
    # What the skips removed left the buffer low: a background refill tops it up with a build
    # that already knows them, and then a page with no new signal comes from the buffer.
    deadline = time.monotonic() + 30
    while len(getattr(await buffers.load(services.cache, f"u:{viewer.id}"), "items", [])) < 10:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    third = await _page(client, viewer, second["next_cursor"])
    assert third["served_by"] == "buffer"


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_deleted_private_and_not_interested_clips_leave_the_feed(client, services, feed_workers) -> None:
    clips = await seed_catalogue(creators=4, clips_per_creator=10, tags=TAGS, services=services)
    viewer = await signup(client, "tidy")
    owner_ids = {c.owner_id for c in clips.values()}
    gone = list(clips.values())[:2]
    await clips_service.update(db=services.db, outbox=services.outbox, clip_id=gone[0].id,
                               user_id=gone[0].owner_id, request=ClipUpdate(visibility="private"))
    await clips_service.delete(db=services.db, blobs=services.blobs, outbox=services.outbox,
                               clip_id=gone[1].id, user_id=gone[1].owner_id)
    await asyncio.sleep(2.0)  # the indexer takes both out
    shown = []
    cursor = None
    for _ in range(4):
        page = await _page(client, viewer, cursor)
        shown += [int(i["clip"]["id"]) for i in page["items"]]
        cursor = page["next_cursor"]
    assert gone[0].id not in shown and gone[1].id not in shown
    assert set(shown) <= set(clips) and len(owner_ids) == 4


async def test_a_refill_stored_while_a_page_is_served_loses_none_of_its_clips(client, services, monkeypatch) -> None:
    # A background refill tops the buffer up between a page's read and its write-back. Its
    # build moved the sources past the clips it took, so a write-back that replaced its buffer
    # would lose them for good: the page merges with it instead.
    await seed_catalogue(creators=30, clips_per_creator=20, tags=["cats", "dogs"], services=services)
    viewer = await signup(client, "raced")
    key = f"u:{viewer.id}"
    first = await _page(client, viewer)
    me = FeedViewer.signed_in(viewer.id, region=services.settings.region)
    assert await feed.refill(me, reason="test", replace=True, services=services)  # a build of their own
    before = {r.clip_id for r in (await buffers.load(services.cache, key)).items}
    added: set[int] = set()
    raced = []

    def refill_first(write):
        async def wrapped(first, *args, **options):
            names = [w.key for w in first] if isinstance(first, list) else [first]
            if buffers.buffer_key(key) in names and not raced:  # the page's write-back (the refill's is the next)
                raced.append(True)
                assert await feed.refill(me, reason="test", services=services)  # reads on from its offsets
                added.update(r.clip_id for r in (await buffers.load(services.cache, key)).items)
                added.difference_update(before)
                assert added  # the refill built new clips
            return await write(first, *args, **options)
        return wrapped

    for method in ("set", "set_if", "write_many"):  # however the page writes back
        monkeypatch.setattr(services.cache, method, refill_first(getattr(services.cache, method)))
    second = await _page(client, viewer, first["next_cursor"])
    monkeypatch.undo()
    assert raced
    served = {int(i["clip"]["id"]) for i in first["items"] + second["items"]}
    kept = {r.clip_id for r in (await buffers.load(services.cache, key)).items}
    assert added - served <= kept
    assert not kept & served
