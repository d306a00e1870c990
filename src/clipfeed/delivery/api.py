"""Delivery routes: playback info, the purge API, and the small web player under ``/app/``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, status
from starlette.responses import FileResponse, RedirectResponse

from clipfeed.core.errors import BadRequest, Forbidden, NotFound
from clipfeed.core.identifiers import parse_id
from clipfeed.delivery import purge as purge_service
from clipfeed.delivery.models import PlaybackInfo, PurgeRequest, PurgeResult
from clipfeed.delivery.playback import playback_info
from clipfeed.http.deps import CurrentUser, Deps, OptionalUser
from clipfeed.http.params import ClipId
from clipfeed.social import service as social

router = APIRouter(prefix="/v1", tags=["delivery"])
web_router = APIRouter(tags=["web"])
WEB_ROOT = Path(__file__).resolve().parents[3] / "web" / "static"
WEB_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
             ".mjs": "text/javascript; charset=utf-8", ".LICENSE": "text/plain; charset=utf-8",
             ".css": "text/css; charset=utf-8"}


@router.get("/clips/{clip_id}/playback", response_model=PlaybackInfo)
async def get_playback(clip_id: ClipId, viewer: OptionalUser,
                       services: Deps, network: Annotated[str | None, Query(max_length=20)] = None,
                       region: Annotated[str | None, Query(max_length=40)] = None) -> PlaybackInfo:
    """URLs and start hints for one clip (what feed items carry). ``network``: the client's
    reported connection (slow-2g, 2g, 3g, 4g, 5g, wifi, ethernet)."""
    viewer_id = viewer.id if viewer else None
    # Playback hands out signed media URLs: it must refuse exactly what the clip's page refuses.
    clip = await social.visible_clip(db=services.db, clip_id=clip_id, viewer_id=viewer_id)
    return await playback_info(services=services, clip=clip, viewer_id=viewer_id, region=region, network=network)


@router.post("/admin/purge", response_model=PurgeResult, status_code=status.HTTP_202_ACCEPTED)
async def purge(body: PurgeRequest, user: CurrentUser, services: Deps) -> PurgeResult:
    """Drop clips' media from every edge cache (moderators and admins)."""
    if not user.is_moderator:
        raise Forbidden("moderators only")
    await services.limiter.hit("purge", str(user.id), limit=120, per_seconds=3600)
    try:
        ids = [parse_id(value) for value in body.clip_ids]
    except ValueError as exc:
        raise BadRequest("clip_ids are numeric clip IDs") from exc
    return await purge_service.purge(services=services, prefixes=[f"clips/{i}/" for i in sorted(set(ids))],
                                     urgency=body.urgency, reason=body.reason or f"by @{user.handle}")


# Pages that moved into the web app: their old addresses keep working.
MOVED = {"analytics.html": "/studio/analytics"}


@web_router.get("/app/{name:path}", include_in_schema=False, response_model=None)
async def web_file(name: str) -> FileResponse | RedirectResponse:
    """The minimal web player (``web/static``); a later web client replaces it."""
    if name in MOVED:
        return RedirectResponse(MOVED[name], status_code=status.HTTP_301_MOVED_PERMANENTLY)
    path = (WEB_ROOT / (name or "index.html")).resolve()
    if WEB_ROOT not in path.parents or not path.is_file() or path.suffix not in WEB_TYPES:
        raise NotFound("no such page")
    return FileResponse(path, media_type=WEB_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
