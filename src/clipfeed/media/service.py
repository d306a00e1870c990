"""Media use cases outside the worker: re-editing a clip from its kept master."""

from __future__ import annotations

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipStatus
from clipfeed.core import contract
from clipfeed.core.errors import Conflict, Forbidden, Invalid
from clipfeed.media.edits import EditList
from clipfeed.runtime.services import Services

REEDITS_PER_HOUR = 20
REEDITABLE = {ClipStatus.ready.value, ClipStatus.failed.value}


async def own_clip(*, services: Services, clip_id: int, user_id: int) -> Clip:
    """The clip if ``user_id`` created it: 404 when they cannot see it, 403 when they only can."""
    clip = await clips_service.get(db=services.db, clip_id=clip_id, viewer_id=user_id)
    if clip.owner_id != user_id:
        raise Forbidden("only the creator can edit this clip")
    return clip


async def reedit(*, services: Services, clip_id: int, user_id: int, edits: EditList) -> Clip:
    """Process the clip again from its original upload with a new edit list.

    The job is written to the outbox first and the clip moved to ``processing`` after: a
    process killed in between leaves a job that re-processes a ready clip, which is what the
    creator asked for (the other order could strand the clip in ``processing`` with no job).
    The job replaces the clip's renditions and images; until it ends the clip is out of feeds."""
    clip = await own_clip(services=services, clip_id=clip_id, user_id=user_id)
    if clip.status not in REEDITABLE:
        raise Conflict(f"a clip that is {clip.status} cannot be re-edited"
                       + (" yet" if clip.status in ("processing", "uploading") else ""))
    master = (clip.media or {}).get("master")
    if not isinstance(master, str):
        raise Conflict("the original video of this clip is not kept")
    try:
        edits.check_for_clip(clip_id)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    if edits.audio and not await services.blobs.exists(edits.audio.key):
        raise Invalid("the background sound was not found")
    await services.limiter.hit("reedit", str(user_id), limit=REEDITS_PER_HOUR, per_seconds=3600)
    info = await services.blobs.stat(master)
    async with services.db.session() as session:
        services.outbox.record(session, contract.MEDIA_UPLOADED, key=clip_id, actor_id=user_id,
                               payload=contract.MediaUploaded(
                                   clip_id=clip_id, owner_id=user_id, master_key=master,
                                   filename=master.rsplit("/", 1)[-1], size=info.size, sha256=None,
                                   edits=edits.model_dump(mode="json"), upload_id=None))
    return await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip_id,
                                          status=ClipStatus.processing, media={"master": master})
