"""The end of a media job: thumbnails, screening, metadata, then the clip's final status.

The status is announced by the ``clip.<status>`` event (topic ``clips``) staged in the same
transaction as the status itself: ``clip.ready`` (published), ``clip.review`` (screening asked
for human review; outputs kept), ``clip.rejected`` (unreadable or damaged input, or screening
said reject) or ``clip.failed`` (the last retry gave up). The write is fenced (only a clip still
``processing`` takes a result), so a job run twice announces one result.

There used to be a second announcement, ``media.ready``/``.held``/``.rejected``/``.failed`` on a
``media.results`` topic; only tests read it, and everything it said is in the clip's row and
its ``clip.<status>`` event, so it is gone (docs/design/media-pipeline.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipStatus
from clipfeed.media import features, fencing, jobstate, metadata, screening, thumbnails
from clipfeed.media import probe as prober
from clipfeed.media.job import Job
from clipfeed.media.reporting import Progress
from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
async def _conclude(job: Job, status: ClipStatus, reason: str | None, media: dict[str, Any],
                    technical: dict[str, int] | None = None, *, services: Services) -> str:
    current = (await clips_service.get_many(db=services.db, clip_ids=[job.clip_id])).get(job.clip_id)
    if current is None or current.status == ClipStatus.deleted.value:
        # Deleted while we worked: what we uploaded since the deletion must go too.
        await clips_service.remove_media(blobs=services.blobs, clip_id=job.clip_id)
        return "gone"
    media = {**media, "master": job.master_key, "job": job.event_id}
    if not job.edits.is_identity:
        media["edits"] = job.edits.model_dump(mode="json", exclude_defaults=True)
    await fencing.check()  # our lock on the clip may have lapsed while we worked
    if job.source_url is not None:
        return await _conclude_cached(job, status, reason, media, technical, services=services)
    try:
        # Fenced: only a clip still ``processing`` takes a result, so of two workers that ran
        # the same job (a lapsed lease) exactly one writes it (and its clip.<status> event).
        await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=job.clip_id,
                                       status=status, reason=reason, media=media, technical=technical,
                                       only_from=ClipStatus.processing)
    except clips_service.StatusChanged:
        return await _concluded_elsewhere(job, services=services)
    stage = {ClipStatus.review: "review"}.get(status, status.value)
    await Progress(services, job.clip_id).stage(stage, 100.0, status=status.value, message=reason or "")
    await jobstate.clear_work(services.blobs, job.clip_id)
    log.info("media.finished", clip_id=job.clip_id, status=status.value, reason=reason)
    return status.value


async def _conclude_cached(job: Job, status: ClipStatus, reason: str | None, media: dict[str, Any],
                           technical: dict[str, int] | None, *, services: Services) -> str:
    """A remote clip's cached copy (``federation/media_cache.py``): the clip, ready all along,
    now plays from our objects and takes the screening's outcome; a technical failure or
    rejection leaves it streaming from its origin (``keep_streaming``)."""
    if status == ClipStatus.failed or (status == ClipStatus.rejected and "screening" not in media):
        return await keep_streaming(job, reason or "", services=services)
    taken = await clips_service.cache_remote(db=services.db, outbox=services.outbox, clip_id=job.clip_id,
                                             source_url=job.source_url or "", status=status, reason=reason,
                                             media=media, technical=technical)
    if not taken:  # its origin changed or removed the file meanwhile: this copy is nobody's
        await clips_service.remove_media(blobs=services.blobs, clip_id=job.clip_id)
        return "superseded"
    await jobstate.clear_work(services.blobs, job.clip_id)
    log.info("media.cached_remote", clip_id=job.clip_id, status=status.value, reason=reason)
    return f"cached, {status.value}"


async def keep_streaming(job: Job, reason: str, *, services: Services) -> str:
    """A remote clip whose file could not be cached plays from its origin as before."""
    await jobstate.clear_outputs(services.blobs, job.clip_id)
    await jobstate.clear_work(services.blobs, job.clip_id)
    await services.blobs.delete_prefix(job.master_key)  # the fetched file, if any: nothing will use it
    await clips_service.note_cache_failure(db=services.db, clip_id=job.clip_id, source_url=job.source_url or "",
                                           reason=reason or "unusable file")
    log.warning("media.cache_skipped", clip_id=job.clip_id, url=(job.source_url or "")[:200], reason=reason[:300])
    return "streaming"


async def _concluded_elsewhere(job: Job, *, services: Services) -> str:
    """Another worker (or a deletion) moved the clip on first: its status and event stand, and
    this worker publishes nothing."""
    clip = (await clips_service.get_many(db=services.db, clip_ids=[job.clip_id])).get(job.clip_id)
    log.warning("media.result_fenced", clip_id=job.clip_id, job=job.event_id,
                status=clip.status if clip else None)
    if clip is not None and (clip.media or {}).get("job") == job.event_id:
        return f"{clip.status} (already)"
    return "superseded"


async def reject(job: Job, clip: Clip, reason: str, *, services: Services, quality: dict[str, Any] | None) -> str:
    """Input that cannot become a clip: nothing but the master is kept."""
    await fencing.check()  # outputs are only ours to clear while we hold the clip
    await jobstate.clear_outputs(services.blobs, job.clip_id)
    return await _conclude(job, ClipStatus.rejected, reason, {"quality": quality} if quality else {}, services=services)


async def fail(job: Job, error: str, *, services: Services) -> None:
    """The last retry gave up (the worker dead-letters the job after this)."""
    if job.source_url is not None:
        await keep_streaming(job, error, services=services)
        return
    current = (await clips_service.get_many(db=services.db, clip_ids=[job.clip_id])).get(job.clip_id)
    if current is None or current.status != ClipStatus.processing.value:
        return  # another worker finished the job meanwhile: its outputs stay
    await jobstate.clear_outputs(services.blobs, job.clip_id)
    await _conclude(job, ClipStatus.failed, "processing failed; please try again later", {"error": error[:300]},
                    services=services)


async def fail_unreadable(clip_id: int, error: str, *, services: Services) -> None:
    """A ``media.uploaded`` event no retry could read: its clip must not wait in ``processing``
    for ever. Only a clip still in ``processing`` is touched (a redelivery after the status
    changed, or a key that names no clip, does nothing)."""
    current = (await clips_service.get_many(db=services.db, clip_ids=[clip_id])).get(clip_id)
    if current is None or current.status != ClipStatus.processing.value:
        return
    reason = "processing failed; please try again later"
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip_id,
                                   status=ClipStatus.failed, reason=reason,
                                   media={**(current.media or {}), "error": error[:300]})
    await Progress(services, clip_id).stage("failed", 100.0, status=ClipStatus.failed.value, message=reason)
    log.error("media.unreadable_job", clip_id=clip_id, error=error)


async def viewer_copy(media: dict[str, Any], workdir: Path, *, services: Services) -> Path:
    """The best H.264 rendition as one local file: what thumbnails, screening and metadata look
    at, so they see the edits (crop, overlays) exactly as viewers will."""
    best = max((r for r in media["renditions"].values() if r["codec"].startswith("avc1")),
               key=lambda r: r["width"] * r["height"])
    folder = best["playlist"].rsplit("/", 1)[0]
    target = workdir / "viewer.mp4"
    with target.open("wb") as out:
        for name in ["init.mp4", *(f"seg_{n:05d}.m4s" for n in range(best["segments"]))]:
            out.write(await services.blobs.get(f"{folder}/{name}"))
    return target


async def finish(job: Job, clip: Clip, state: jobstate.JobState, viewer: Path, progress: Progress,
                 *, services: Services) -> str:
    done = state.stages["transcoded"]
    view_probe = await prober.probe(viewer)
    await fencing.check()
    if not state.done("thumbnails"):
        await progress.stage("thumbnails", 90)
        files = await thumbnails.make(source=viewer, workdir=viewer.parent / "img", probe=view_probe,
                                      cover_time=job.edits.cover_time)
        images = {}
        for name, path in sorted(files.items()):
            key = f"clips/{job.clip_id}/img/{name}"
            await services.blobs.put_file(key, path)
            images[name] = key
        state.stages["thumbnails"] = images
        await jobstate.save(services.blobs, job.clip_id, state)
    await fencing.check()
    if not state.done("screening"):
        await progress.stage("moderating", 93)
        verdict = await screening.screen(services=services, clip_id=job.clip_id, source=viewer,
                                         workdir=viewer.parent / "screening", probe=view_probe,
                                         caption=clip.caption, hashtags=list(clip.hashtags or []))
        state.stages["screening"] = {"decision": verdict.decision, "scores": verdict.scores,
                                     "reason": verdict.creator_reason}
        await jobstate.save(services.blobs, job.clip_id, state)
    await fencing.check()
    if not state.done("metadata"):
        await progress.stage("moderating", 97, message="metadata")
        found = await metadata.extract(source=viewer, workdir=viewer.parent / "metadata", probe=view_probe,
                                       caption=clip.caption, settings=services.settings)
        await features.save_metadata(db=services.db, clip_id=job.clip_id, metadata=found)
        state.stages["metadata"] = True
        await jobstate.save(services.blobs, job.clip_id, state)
    images = state.stages["thumbnails"]
    media = {**done["media"], "quality": done["quality"], "images": images, "objects": done["objects"] + len(images),
             "screening": state.stages["screening"]}
    poster = images.get("poster_720.webp") or images.get("poster_360.webp")
    if poster:
        media["poster"] = poster
    status = {"approve": ClipStatus.ready, "hold": ClipStatus.review,
              "reject": ClipStatus.rejected}[state.stages["screening"]["decision"]]
    return await _conclude(job, status, state.stages["screening"]["reason"], media, done["technical"],
                           services=services)
