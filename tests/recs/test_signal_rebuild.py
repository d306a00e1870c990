"""A rebuild after a strong signal reads every source from the top, as a new session does: the
viewer's state changed, so the best candidates are again the first ones, not those past
everything earlier builds returned. Background top-ups of a drained buffer read on."""

from __future__ import annotations

from clipfeed.recs import buffer as buffers
from clipfeed.recs.compose import offsets_key
from clipfeed.recs.feed import refill
from clipfeed.recs.viewers import FeedViewer
from tests.helpers import signup
from tests.recs.conftest import seed_catalogue

DEEP = 250  # of 300 clips: the catalogue's newest first, read from here on


async def _rebuilt(client, services, handle: str, *, replace: bool) -> tuple[set[int], int]:
    account = await signup(client, handle)
    viewer = FeedViewer.signed_in(account.id)
    await services.cache.hset(offsets_key(viewer.key), {"recent": str(DEEP).encode()}, ttl=3600)
    assert await refill(viewer, reason="signal" if replace else "drained", replace=replace, services=services)
    stored = await buffers.load(services.cache, viewer.key)
    assert stored is not None
    offsets = await services.cache.hgetall(offsets_key(viewer.key))
    return {r.clip_id for r in stored.items if r.source == "recent"}, int(offsets["recent"])


async def test_a_signals_rebuild_reads_the_catalogue_from_the_top_and_a_top_up_reads_on(client, services) -> None:
    clips = await seed_catalogue(creators=10, clips_per_creator=30, tags=["cats", "dogs"], services=services)
    newest = sorted(clips, key=lambda c: clips[c].published_at, reverse=True)
    after_signal, signal_offset = await _rebuilt(client, services, "signalled", replace=True)
    topped_up, top_up_offset = await _rebuilt(client, services, "drained", replace=False)
    assert after_signal & set(newest[:DEEP]) and signal_offset < DEEP
    assert not topped_up & set(newest[:DEEP]) and top_up_offset > DEEP
