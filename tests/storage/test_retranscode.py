"""A cold clip that turns popular again gets its dropped renditions back: a clip made by the real
media pipeline goes cold under a simulated clock, is watched a lot, and the media worker's
``media.retranscode`` processor re-creates the renditions from the raw master (in the cold
tier), so the manifests list them again and their segments play. Redeliveries do nothing."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from clipfeed.clips import service as clips
from clipfeed.core.contract import Topic
from clipfeed.core.events import Event
from clipfeed.delivery.models import PurgeTask
from clipfeed.infra.log import Record
from clipfeed.media.job import Job
from clipfeed.media.pipeline import run_job
from clipfeed.media.retranscode import RetranscodeProcessor, restore
from clipfeed.storage import lifecycle
from clipfeed.storage.models import Part, StoredPart
from clipfeed.storage.service import parts_of
from clipfeed.storage.tiers import tier_stores
from clipfeed.workers import run_role
from tests.conftest import stack_settings
from tests.helpers import wait_for
from tests.media.submit import clip_row, ffprobe, make_clip, submit

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]
EDGE = "http://127.0.0.1:9"  # never called: "soon" purges are only queued for the purge loop
DLQ = f"dlq.{RetranscodeProcessor.group}"


@pytest.fixture
def settings(stack: str, tmp_path, request: pytest.FixtureRequest):
    return stack_settings(stack, tmp_path, request, edges={"local": [EDGE]})


class Views:
    def __init__(self) -> None:
        self.totals: dict[int, int] = {}

    async def __call__(self, clip_ids: list[int]) -> dict[int, int]:
        return {c: self.totals.get(c, 0) for c in clip_ids}


async def records(topic: str, *, services) -> list[Record]:
    try:
        partitions = await services.log.partitions(topic)
    except Exception:
        return []
    found: list[Record] = []
    for p in range(partitions):
        found += await services.log.read(topic, p, from_offset=0, limit=1000)
    return found




def without_bitrates(manifest: str) -> str:
    return re.sub(r"(BANDWIDTH=|bandwidth=\")[0-9]+", r"\1", manifest)


async def hot_objects(clip_id: int, *, services) -> dict[str, tuple[int, object]]:
    return {i.key: (i.size, i.modified) async for i in tier_stores(services=services).hot.list(f"clips/{clip_id}/")}


async def restore_purges(*, services) -> list[PurgeTask]:
    async with services.db.session() as session:
        return list(await session.scalars(sa.select(PurgeTask).where(PurgeTask.reason == "renditions re-created")))


async def test_a_cold_clip_popular_again_gets_its_renditions_back_once(client, services, tmp_path: Path) -> None:
    event = await submit(make_clip(tmp_path / "src.mp4", size="854x480", seconds=4), publish=False, services=services)
    clip_id = int(event.key)
    assert await run_job(Job.from_event(event), services=services) == "ready"
    clip = await clip_row(clip_id, services=services)
    assert set(clip.media["renditions"]) == {"480", "360", "240"}
    views, media = Views(), f"/media/clips/{clip_id}/"
    original = (await client.get(media + "hls/master.m3u8")).text
    original_mpd = (await client.get(media + "dash/manifest.mpd")).text

    async def run(days: float) -> lifecycle.LifecycleReport:
        return await lifecycle.run(now=clip.published_at + timedelta(days=days), views=views, services=services)

    await run(0)
    assert (await run(2)).moves == {"raw:hot->cold": 1}
    views.totals[clip_id] = 40
    assert (await run(8)).moves == {"media:hot->warm": 1}
    assert (await run(61)).moves == {"media:warm->cold": 1}
    assert (await parts_of(services=services, clip_id=clip_id))[Part.media].dropped == ["360", "480"]
    assert "v/480" not in (await client.get(media + "hls/master.m3u8")).text
    views.totals[clip_id] = 40 + 500  # popular again: back to hot, and the renditions are asked for
    assert (await run(63)).retranscodes == 1
    await services.outbox.flush()
    await services.log.append(Topic.MEDIA_RETRANSCODE, b"{not an event", key=str(clip_id).encode())

    stop = asyncio.Event()
    worker = asyncio.create_task(run_role("media", stop, services=services))
    try:
        async def restored() -> bool:
            return not (await parts_of(services=services, clip_id=clip_id))[Part.media].dropped

        async def dead_lettered() -> bool:
            return bool(await records(DLQ, services=services))

        await wait_for(restored, 60)  # the poison record before it did not stop the worker
        await wait_for(dead_lettered, 30)
    finally:
        stop.set()
        await worker
    [poison] = await records(DLQ, services=services)
    assert poison.value == b"{not an event" and "ValidationError" in poison.headers["error"]

    # The manifests are the pipeline's again (bitrates measured on the new encode may differ a little).
    master = (await client.get(media + "hls/master.m3u8")).text
    assert all(f"../v/{name}/index.m3u8" in master for name in ("480", "360", "240")) and "a/aac" in master
    assert without_bitrates(master) == without_bitrates(original)
    assert without_bitrates((await client.get(media + "dash/manifest.mpd")).text) == without_bitrates(original_mpd)
    kept = (await client.get(media + "v/240/index.m3u8")).text
    back = (await client.get(media + "v/480/index.m3u8")).text
    assert back.count("#EXTINF") == kept.count("#EXTINF") >= 3  # the same segment timeline
    init, segment = (await client.get(media + "v/480/init.mp4")), (await client.get(media + "v/480/seg_00001.m4s"))
    assert init.status_code == segment.status_code == 200
    (tmp_path / "seg.mp4").write_bytes(init.content + segment.content)
    probed = ffprobe(tmp_path / "seg.mp4", "-count_frames", "-select_streams", "v:0", "-show_entries",
                     "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0").strip().split(",")
    assert probed[:3] == ["h264", "854", "480"] and int(probed[3]) >= 25  # a 2 s segment at 25 fps
    row = (await parts_of(services=services, clip_id=clip_id))[Part.media]
    assert (row.tier, row.dropped, row.dropped_bytes) == ("hot", [], 0)
    cold = tier_stores(services=services).cold
    assert {i.key async for i in cold.list(f"clips/{clip_id}/")} == {clip.media["master"]}
    [purge] = await restore_purges(services=services)
    assert purge.edge == EDGE and {f"clips/{clip_id}/hls/", f"clips/{clip_id}/v/480/"} <= set(purge.prefixes)

    # The same event again (a redelivery): nothing is encoded, written or purged.
    [record] = [r for r in await records(Topic.MEDIA_RETRANSCODE, services=services) if r.value.startswith(b"{\"id")]
    assert Event.decode(record.value).payload["renditions"] == ["360", "480"]
    before = await hot_objects(clip_id, services=services)
    await RetranscodeProcessor(services).handle_one(record)
    assert await hot_objects(clip_id, services=services) == before and len(await restore_purges(services=services)) == 1
    # Killed after writing the manifests but before recording it: the redelivery only records.
    async with services.db.session() as session:
        await session.execute(sa.update(StoredPart).where(
            StoredPart.clip_id == clip_id, StoredPart.part == Part.media.value).values(
            dropped=["360", "480"]))
    assert await restore(clip_id, services=services) == "recorded"
    assert await hot_objects(clip_id, services=services) == before
    assert (await parts_of(services=services, clip_id=clip_id))[Part.media].dropped == []
    # A deleted clip: acked, and nothing written back.
    await clips.delete(db=services.db, blobs=services.blobs, outbox=services.outbox, clip_id=clip_id,
                       user_id=clip.owner_id)
    await RetranscodeProcessor(services).handle_one(record)
    assert await hot_objects(clip_id, services=services) == {}
