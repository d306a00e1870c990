"""The media job for one uploaded clip.

States (the clip's ``status`` and the progress ``stage``)::

    uploaded -> probing -> transcoding -> packaging -> thumbnails -> moderating -> ready
                   |            |                                        |-> review (held)
                   '------------'--> rejected (unreadable, damaged)      '-> rejected
    any stage, after the last retry -> failed

Crash behaviour: each finished stage is saved in ``clips/{id}/work/state.json`` (see
``jobstate``). A redelivered job skips what is saved and redoes the rest; an encode that did
not finish restarts after deleting every output prefix, so no partial object outlives the
job. Outputs have deterministic keys, and the final status is written once (with its
``clip.<status>`` event), with the job's event ID in ``media["job"]``: a delivery of an
already finished job only cleans up.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipStatus
from clipfeed.federation import media_cache
from clipfeed.infra.blobs import BlobNotFound
from clipfeed.media import fencing, jobstate, passthrough, results, transcode
from clipfeed.media import probe as prober
from clipfeed.media.ffmpeg import FFmpegError, Report
from clipfeed.media.job import Job
from clipfeed.media.publish import Publisher
from clipfeed.media.reporting import Progress
from clipfeed.media.validate import Limits, UnusableMedia, assess, check_probe
from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
UNDECODABLE = "the video could not be decoded; the file may be damaged"
FINAL = {ClipStatus.ready.value, ClipStatus.rejected.value, ClipStatus.failed.value, ClipStatus.review.value}


def workdir_for(clip_id: int, *, services: Services) -> Path:
    # Per process: a worker that took over a stalled one's job on the same machine must not
    # delete the files the other is still working on (it may wake up and go on).
    return Path(services.settings.resolve(services.settings.media_work_dir)) / f"{clip_id}-{os.getpid()}"


async def run_job(job: Job, *, services: Services) -> str:
    """Take the clip as far as it goes; returns the outcome (ready, review, rejected, ...).
    Raises on trouble a retry may cure (storage down, FFmpeg killed)."""
    clip = (await clips_service.get_many(db=services.db, clip_ids=[job.clip_id])).get(job.clip_id)
    if clip is None or clip.status == ClipStatus.deleted.value:
        await jobstate.clear_work(services.blobs, job.clip_id)
        return "gone"
    media = clip.media or {}
    if media.get("job") == job.event_id and clip.status in FINAL:
        await jobstate.clear_work(services.blobs, job.clip_id)
        return f"{clip.status} (already)"
    workdir = workdir_for(job.clip_id, services=services)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        return await _run(job, clip, workdir, services=services)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _run(job: Job, clip: Clip, workdir: Path, *, services: Services) -> str:
    settings, blobs = services.settings, services.blobs
    progress = Progress(services, job.clip_id)
    state = await jobstate.load(blobs, job.clip_id, job.event_id)
    await progress.stage("probing", 1)
    source = workdir / ("master" + Path(job.master_key).suffix)
    if job.source_url is not None and not await blobs.exists(job.master_key):
        try:  # a remote clip's file, cached here: kept as its master, so a retry starts from it
            await media_cache.fetch(job.source_url, source, services=services)
        except media_cache.Unfetchable as exc:
            return await results.keep_streaming(job, str(exc), services=services)
        await blobs.put_file(job.master_key, source)
    else:
        await blobs.download(job.master_key, source)
    try:
        probe = await prober.probe(source)
        check_probe(probe, Limits(max_duration_s=settings.media_max_duration_s, max_side=settings.media_max_side))
        plan = transcode.make_plan(probe, source, job.edits, extra_codecs=tuple(settings.media_extra_codecs),
                                   background=await _background(job, workdir, services=services))
        if plan.duration < 0.3:
            raise UnusableMedia("after trimming, nothing of the video is left")
    except (prober.ProbeError, UnusableMedia) as exc:
        return await results.reject(job, clip, str(exc), quality=None, services=services)

    if not state.done("transcoded"):
        verdict = await passthrough.decide(probe, plan, enabled=settings.media_passthrough)
        log.info("media.passthrough", clip_id=job.clip_id, copy_top=verdict.copy, reason=verdict.reason)
        plan = replace(plan, copy_top=verdict.copy, source_start=verdict.file_start)
        await fencing.check()
        await jobstate.save(blobs, job.clip_id, state)  # marks the job current (chunk workers check)
        try:
            state.stages["transcoded"] = await _transcode(job, plan, workdir, progress, services=services)
        except (UnusableMedia, FFmpegError) as exc:
            if isinstance(exc, FFmpegError) and not exc.input_at_fault:
                raise  # killed, out of disk: a retry may do better
            log.info("media.rejected_in_decode", clip_id=job.clip_id, error=str(exc))
            reason = str(exc) if isinstance(exc, UnusableMedia) else UNDECODABLE
            return await results.reject(job, clip, reason, quality=None, services=services)
        await fencing.check()  # a long encode: the clip may have passed to another worker
        await jobstate.save(blobs, job.clip_id, state)
    done = state.stages["transcoded"]
    viewer_copy = await results.viewer_copy(done["media"], workdir, services=services)
    return await results.finish(job, clip, state, viewer_copy, progress, services=services)


async def _background(job: Job, workdir: Path, *, services: Services) -> Path | None:
    if job.edits.audio is None:
        return None
    target = workdir / ("background" + Path(job.edits.audio.key).suffix)
    try:
        await services.blobs.download(job.edits.audio.key, target)
    except BlobNotFound as exc:
        raise UnusableMedia("the background sound of the edit list was not found") from exc
    try:
        sound = await prober.probe(target)
    except prober.ProbeError as exc:
        raise UnusableMedia("the background sound is not a readable audio file") from exc
    if not sound.audio:
        raise UnusableMedia("the background sound has no audio track")
    return target


async def _transcode(job: Job, plan: transcode.Plan, workdir: Path, progress: Progress,
                     *, services: Services) -> dict[str, Any]:
    """Encode, check the decode's health, publish; returns what the state records."""
    blobs, settings = services.blobs, services.settings
    audio_report = await transcode.measure_audio(plan, workdir) if plan.has_audio else None
    plan = replace(plan, gain_db=transcode.loudness_gain(audio_report.loudness_lufs if audio_report else None))
    await jobstate.clear_outputs(blobs, job.clip_id)
    await jobstate.clear_other_jobs(blobs, job.clip_id, job.event_id)
    await progress.stage("transcoding", 5)
    outdir = workdir / "out"
    publisher = Publisher(blobs, f"clips/{job.clip_id}/", outdir, plan.rungs, plan.fps, plan.has_audio,
                          on_preview=progress.preview, copy_top=plan.copy_top)
    video_report: Report
    if plan.duration > settings.media_chunk_after_s:
        from clipfeed.media import chunks

        video_report = await chunks.encode_in_chunks(job, plan, workdir, outdir, progress, services=services)
        await publisher.sync()
    else:
        video_report = await _encode_following(plan, outdir, workdir, publisher, progress)
    quality = assess(video_report, audio_report, duration=plan.duration, fps=float(plan.fps),
                     has_audio=plan.has_audio, gain_db=plan.gain_db)
    await progress.stage("packaging", 86)
    media = await publisher.finish(plan.duration, workdir)
    top = next(r for r in plan.rungs if r.profile.codec == "h264")
    log.info("media.transcoded", clip_id=job.clip_id, renditions=[r.name for r in plan.rungs],
             top_copied=plan.copy_top, flags=quality.flags, objects=len(publisher.written))
    return {"media": media, "quality": quality.as_dict(), "objects": len(publisher.written),
            "top_copied": plan.copy_top,
            "technical": {"duration_ms": int(plan.duration * 1000), "width": top.width, "height": top.height}}


async def _encode_following(plan: transcode.Plan, outdir: Path, workdir: Path, publisher: Publisher,
                            progress: Progress) -> Report:
    """The one-process ladder, its segments uploaded while it runs."""
    async def on_time(seconds: float) -> None:
        await progress.encoding(seconds, plan.duration)

    encoding = asyncio.ensure_future(transcode.encode(plan, outdir, workdir, on_progress=on_time))
    try:
        await publisher.follow(encoding)
    finally:
        if not encoding.done():
            encoding.cancel()
    return await encoding

