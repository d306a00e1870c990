"""Tier moves under a simulated clock, transparent reads from every tier, cold restores,
replication and the cost report, on local folders and on SeaweedFS buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clipfeed.clips import service as clips
from clipfeed.storage import lifecycle, replication, report
from clipfeed.storage.models import Part, Tier
from clipfeed.storage.service import parts_of
from clipfeed.storage.tiers import tier_stores
from tests.delivery import ladder
from tests.helpers import signup

pytestmark = pytest.mark.slow
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def keys_in(store, clip_id: int) -> set[str]:
    return {info.key.split("/", 2)[2] async for info in store.list(f"clips/{clip_id}/")}


def every_file() -> set[str]:
    root = ladder.ladder()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


class Views:
    """Total views per clip, as the stream counters would report them."""

    def __init__(self) -> None:
        self.totals: dict[int, int] = {}

    async def __call__(self, clip_ids: list[int]) -> dict[int, int]:
        return {c: self.totals.get(c, 0) for c in clip_ids}


async def test_a_clip_goes_hot_warm_cold_and_back_and_plays_all_along(client, services) -> None:
    owner = await signup(client, "ager")
    clip = await ladder.publish(owner_id=owner.id, services=services)
    stores, views = tier_stores(services=services), Views()
    media = f"/media/clips/{clip.id}/"

    async def run(days: float) -> lifecycle.LifecycleReport:
        return await lifecycle.run(now=clip.published_at + timedelta(days=days), views=views, services=services)

    assert (await run(0)).moves == {}
    assert (await run(2)).moves == {"raw:hot->cold": 1}  # the raw master is never served
    assert await keys_in(stores.cold, clip.id) == {"raw/master.mp4"}
    views.totals[clip.id] = 40  # 40 views in 6 days: under 10 a day
    assert (await run(8)).moves == {"media:hot->warm": 1}
    assert await keys_in(stores.hot, clip.id) == set()
    assert await keys_in(stores.warm, clip.id) == every_file() - {"raw/master.mp4"}
    segment = await client.get(media + "v/720/seg_00001.m4s")
    assert segment.status_code == 200 and segment.content == (ladder.ladder() / "v/720/seg_00001.m4s").read_bytes()

    assert (await run(61)).moves == {"media:warm->cold": 1}
    cold = await keys_in(stores.cold, clip.id)
    assert not any(k.startswith(("v/360/", "v/720/")) for k in cold) and "v/240/seg_00003.m4s" in cold
    master = await client.get(media + "hls/master.m3u8")
    assert "v/240/index.m3u8" in master.text and "v/720" not in master.text and "v/360" not in master.text
    assert "v/720" not in (await client.get(media + "dash/manifest.mpd")).text
    assert (await client.get(media + "v/720/seg_00000.m4s")).status_code == 404
    row = (await parts_of(services=services, clip_id=clip.id))[Part.media]
    assert row.tier == "cold" and row.dropped == ["360", "720"] and row.dropped_bytes > 0

    # Someone watches it: the read is served from cold and asks for a restore.
    low = await client.get(media + "v/240/seg_00000.m4s")
    assert low.status_code == 200 and low.content == (ladder.ladder() / "v/240/seg_00000.m4s").read_bytes()
    assert await lifecycle.restore_requested(now=clip.published_at + timedelta(days=62), services=services) == 1
    assert (await parts_of(services=services, clip_id=clip.id))[Part.media].tier == "hot"
    assert "v/240/seg_00000.m4s" in await keys_in(stores.hot, clip.id)
    assert await keys_in(stores.cold, clip.id) == {"raw/master.mp4"}

    views.totals[clip.id] = 40 + 500  # popular again: the missing renditions are asked for once
    again = await run(63)
    assert again.retranscodes == 1 and (await run(64)).retranscodes == 0


async def test_deleted_clips_leave_no_object_in_any_tier(client, services) -> None:
    owner = await signup(client, "quitter")
    clip = await ladder.publish(owner_id=owner.id, services=services)
    views = Views()
    await lifecycle.run(now=clip.published_at, views=views, services=services)
    await lifecycle.run(now=clip.published_at + timedelta(days=8), views=views, services=services)
    stores = tier_stores(services=services)
    assert await keys_in(stores.warm, clip.id)
    await clips.delete(db=services.db, blobs=services.blobs, outbox=services.outbox, clip_id=clip.id,
                       user_id=owner.id)
    swept = await lifecycle.run(now=clip.published_at + timedelta(days=9), views=views, services=services)
    assert swept.swept > 0
    for store in (stores.hot, stores.warm, stores.cold):
        assert await keys_in(store, clip.id) == set()
    assert await parts_of(services=services, clip_id=clip.id) == {}


async def test_replication_mirrors_hot_objects_and_repairs_the_replica(client, services) -> None:
    owner = await signup(client, "twin")
    clip = await ladder.publish(owner_id=owner.id, services=services)
    stores = tier_stores(services=services)
    assert stores.replica is not None
    first = await replication.reconcile(services=services)
    assert first.copied >= len(every_file()) - 1
    assert await keys_in(stores.replica, clip.id) == every_file() - {"raw/master.mp4"}
    await stores.replica.delete(f"clips/{clip.id}/v/720/seg_00002.m4s")
    await stores.replica.put(f"clips/{clip.id}/v/240/index.m3u8", b"#EXTM3U\n# damaged\n")
    repaired = await replication.reconcile(services=services)
    assert repaired.copied == 2
    assert await stores.replica.get(f"clips/{clip.id}/v/240/index.m3u8") == \
        (ladder.ladder() / "v/240/index.m3u8").read_bytes()
    views = Views()
    await lifecycle.run(now=clip.published_at, views=views, services=services)
    await lifecycle.run(now=clip.published_at + timedelta(days=8), views=views, services=services)  # leaves hot
    assert (await replication.reconcile(services=services)).deleted > 0
    assert await keys_in(stores.replica, clip.id) == set()


async def test_cost_report_shows_each_tier_and_the_saving_against_all_hot(client, services) -> None:
    owner = await signup(client, "payer")
    views = Views()
    aged = await ladder.publish(owner_id=owner.id, services=services)
    fresh = await ladder.publish(owner_id=owner.id, services=services)
    for days in (0, 8, 61):
        views.totals[fresh.id] = 1000 * days  # a popular clip stays hot
        await lifecycle.run(now=aged.published_at + timedelta(days=days), views=views, services=services)
    assert (await parts_of(services=services, clip_id=fresh.id))[Part.media].tier == Tier.hot.value
    assert (await parts_of(services=services, clip_id=aged.id))[Part.media].tier == Tier.cold.value
    built = await report.build(services=services)
    by_tier = {line.name: line for line in built.lines}
    assert by_tier["cold"].bytes > 0 and by_tier["hot"].bytes > 0
    assert built.dropped_bytes > 0 and built.saved_monthly > 0
    assert built.all_hot_monthly > built.monthly
