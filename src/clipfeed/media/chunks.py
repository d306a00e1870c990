"""Long clips, encoded in parallel by several workers and joined.

A clip longer than ``CLIPFEED_MEDIA_CHUNK_AFTER_S`` is cut into chunks of about
``CLIPFEED_MEDIA_CHUNK_S`` on keyframe times (1, 3, 5, ... s, so the GOPs of the joined
renditions fall where a single run would put them). The job publishes one ``media.chunks``
record per chunk; any media worker (this one included) encodes a chunk's whole ladder in one
FFmpeg run (same filter graph, keyframes forced from the chunk's start) and stores it at
``clips/{id}/work/{job}/chunks/{n}/ladder.mp4`` with a ``done.json`` beside it. The job encodes
the sound track meanwhile, waits for every chunk, then joins them with FFmpeg's concat demuxer
into the same CMAF segments as a single run (stream copy: no second encode). When the job copies
the top rung from the source (``Plan.copy_top``), chunks hold only the lower rungs and the join
takes the top one from the source, copied as well.

Crash behaviour: chunk results are keyed by job and index, so a redelivered job or chunk
reuses what is already stored and a duplicate chunk encode overwrites identical output; the
job's scratch prefix is deleted when the job ends.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import orjson
import structlog

from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.infra.log import Record
from clipfeed.media import edits as edit_lists
from clipfeed.media import jobstate, transcode
from clipfeed.media import probe as prober
from clipfeed.media.ffmpeg import Report, run
from clipfeed.media.job import Job, LongJobProcessor
from clipfeed.media.reporting import Progress
from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
POLL_S = 0.5



def _prefix(clip_id: int, job: int, index: int) -> str:
    return f"clips/{clip_id}/work/{job}/chunks/{index}/"


async def encode_in_chunks(job: Job, plan: transcode.Plan, workdir: Path, outdir: Path, progress: Progress,
                           *, services: Services) -> Report:
    """Fan the ladder out as chunk jobs, encode the sound here, join; returns the merged
    health report of the chunk decodes."""
    bounds = transcode.chunk_bounds(plan.duration, services.settings.media_chunk_s)
    for index, (start, length) in enumerate(bounds):
        if not await services.blobs.exists(_prefix(job.clip_id, job.event_id, index) + "done.json"):
            payload = contract.MediaChunk(clip_id=job.clip_id, job=job.event_id, index=index, start=start,
                                          length=length, master_key=job.master_key,
                                          edits=job.edits.model_dump(mode="json"),
                                          extra_codecs=list(services.settings.media_extra_codecs),
                                          copy_top=plan.copy_top)
            event = contract.MEDIA_CHUNK.event(id=services.ids.next_id(), key=job.clip_id, payload=payload)
            await services.log.append(contract.MEDIA_CHUNK.topic, event.encode(), key=event.key.encode())
    audio = workdir / "audio.mp4"
    audio_task = asyncio.ensure_future(encode_audio(plan, audio)) if plan.has_audio else None
    reports = await _wait(job, len(bounds), plan.duration, progress, services=services)
    if audio_task is not None:
        await audio_task
    local = []
    for index in range(len(bounds)):
        path = workdir / f"chunk-{index}.mp4"
        await services.blobs.download(_prefix(job.clip_id, job.event_id, index) + "ladder.mp4", path)
        local.append(path)
    await join(plan, local, audio if plan.has_audio else None, outdir, workdir)
    merged = Report(out_time=sum(r["out_time"] for r in reports))
    for r in reports:
        merged.errors += r["errors"]
        merged.black_s += r["black_s"]
        merged.frozen_s += r["frozen_s"]
    return merged


async def _wait(job: Job, count: int, duration: float, progress: Progress, *,
                services: Services) -> list[dict[str, Any]]:
    deadline = time.monotonic() + max(900.0, duration * 30)
    found: dict[int, dict[str, Any]] = {}
    while len(found) < count:
        for index in range(count):
            if index not in found:
                key = _prefix(job.clip_id, job.event_id, index) + "done.json"
                if await services.blobs.exists(key):
                    found[index] = orjson.loads(await services.blobs.get(key))
        await progress.encoding(duration * len(found) / count, duration)
        if len(found) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count - len(found)} of {count} chunks not encoded in time")
            await asyncio.sleep(POLL_S)
    return [found[i] for i in range(count)]


async def encode_audio(plan: transcode.Plan, target: Path) -> None:
    await run([*transcode.input_args(plan, video=False), "-filter_complex", transcode.audio_chain(plan),
               "-map", "[aout]", *transcode.audio_encoder_args(), str(target)], timeout=1800)


async def encode_chunk(plan: transcode.Plan, index: int, start: float, length: float, workdir: Path,
                       target: Path) -> Report:
    """One chunk's ladder in one FFmpeg run, one video stream per encoded rendition (a copied
    top rung is left to the join)."""
    plan = replace(plan, rungs=plan.encoded, copy_top=False)
    graph, labels = transcode.ladder_graph(plan)
    maps = [arg for label in labels for arg in ("-map", f"[{label}]")]
    args = [*transcode.input_args(plan, start=start, length=length, with_background=False),
            "-filter_complex", ";".join([transcode.video_chain(plan, workdir, offset=start), graph]), *maps,
            *transcode.encoder_args(plan, first_chunk=index == 0), "-t", f"{length:.3f}", str(target)]
    return await run(args, duration=length, timeout=max(600.0, length * 30))


async def join(plan: transcode.Plan, parts: list[Path], audio: Path | None, outdir: Path, workdir: Path) -> None:
    listing = workdir / "chunks.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    names = plan.output_folders
    for name in names + (["audio"] if audio else []):
        (outdir / name).mkdir(parents=True, exist_ok=True)
    args = ["-f", "concat", "-safe", "0", "-i", str(listing)]
    maps = [arg for i in range(len(plan.encoded)) for arg in ("-map", f"0:v:{i}")]
    if plan.copy_top:  # read as the single run reads it, so both give the same packets
        args += transcode.input_args(plan, with_background=False)
        maps = ["-map", "1:v:0", *maps]
    if audio is not None:
        args += ["-i", str(audio)]
        maps += ["-map", f"{2 if plan.copy_top else 1}:a:0"]
    await run([*args, *maps, "-c", "copy", *transcode.hls_args(outdir, names, has_audio=audio is not None)],
              timeout=1800)


class ChunkProcessor(LongJobProcessor):
    group: ClassVar[str] = "media-chunks"
    topics: ClassVar[list[str]] = [contract.Topic.MEDIA_CHUNKS]

    async def handle_one(self, record: Record) -> None:
        chunk = contract.MEDIA_CHUNK.parse(Event.decode(record.value))
        clip_id, job, index = chunk.clip_id, chunk.job, chunk.index
        prefix = _prefix(clip_id, job, index)
        blobs = self.services.blobs
        if await blobs.exists(prefix + "done.json"):
            return
        if await jobstate.current_job(blobs, clip_id) != job:
            return  # the job is over (or replaced by a re-edit): nothing would use this chunk
        root = Path(self.services.settings.resolve(self.services.settings.media_work_dir))
        workdir = root / f"chunk-{clip_id}-{index}"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        try:
            source = workdir / ("master" + Path(chunk.master_key).suffix)
            await blobs.download(chunk.master_key, source)
            plan = transcode.make_plan(await prober.probe(source), source, edit_lists.parse(chunk.edits),
                                       extra_codecs=tuple(chunk.extra_codecs))
            plan = replace(plan, copy_top=chunk.copy_top)  # the job's decision (passthrough.py)
            target = workdir / "ladder.mp4"
            report = await encode_chunk(plan, index, chunk.start, chunk.length, workdir, target)
            await blobs.put_file(prefix + "ladder.mp4", target, content_type="video/mp4")
            await blobs.put(prefix + "done.json", orjson.dumps({
                "out_time": report.out_time, "errors": report.errors[:50], "black_s": report.black_s,
                "frozen_s": report.frozen_s}), content_type="application/json")
            log.info("media.chunk_done", clip_id=clip_id, index=index, seconds=report.out_time)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
