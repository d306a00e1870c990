"""The social feature's routes: ``/v1`` API routers and the human-facing share page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.core.errors import NotFound
from clipfeed.core.identifiers import id_or_none
from clipfeed.delivery.playback import url_builder
from clipfeed.http.deps import Deps, OptionalUser
from clipfeed.social import access, comment_moderation, share_page
from clipfeed.social.comments_api import router as comments_router
from clipfeed.social.domain_blocks_api import router as domain_blocks_router
from clipfeed.social.engagement_api import router as engagement_router
from clipfeed.social.follows_api import router as follows_router

comment_moderation.register()

router = APIRouter()
router.include_router(follows_router)
router.include_router(engagement_router)
router.include_router(comments_router)
router.include_router(domain_blocks_router)

SHARE_HEADERS = {"Cache-Control": "public, max-age=300", "Content-Security-Policy": share_page.CSP,
                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin"}


async def _share_page(clip_ref: str, viewer: User | None, *, services: Deps, embed: bool) -> HTMLResponse:
    try:
        clip_id = id_or_none(clip_ref)
        if clip_id is None:
            raise NotFound("no such clip")
        # What anyone may see (ready, public or unlisted), and for a signed-in caller no clip of
        # a creator blocked either way: the page is one more read of the clip.
        clip = await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=None)
        if viewer is not None:
            await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=viewer.id)
        owner = (await accounts.get_many(db=services.db, user_ids=[clip.owner_id]))[clip.owner_id]
    except NotFound:
        return HTMLResponse(share_page.render_missing(), status_code=404,
                            headers={**SHARE_HEADERS, "Cache-Control": "no-store"})
    media = url_builder(services.settings, viewer_id=None)(clip)
    html = share_page.render(clip=clip, handle=owner.handle, base_url=services.settings.base_url, media=media,
                             embed=embed)
    # A page rendered for a signed-in caller depends on them: no shared cache may keep it.
    headers = SHARE_HEADERS if viewer is None else {**SHARE_HEADERS, "Cache-Control": "private, no-store"}
    return HTMLResponse(html, headers=headers)


ShareClipId = Annotated[str, Path(max_length=20, description="clip ID")]


@router.get("/share/c/{clip_id}", response_class=HTMLResponse, tags=["share"])
async def share_page_route(clip_id: ShareClipId, services: Deps, viewer: OptionalUser) -> HTMLResponse:
    """The page a shared link opens; its Open Graph/Twitter tags make previews show the poster."""
    return await _share_page(clip_id, viewer, embed=False, services=services)


@router.get("/share/c/{clip_id}/embed", response_class=HTMLResponse, tags=["share"])
async def share_embed(clip_id: ShareClipId, services: Deps, viewer: OptionalUser) -> HTMLResponse:
    """Just the player (``twitter:player``)."""
    return await _share_page(clip_id, viewer, embed=True, services=services)
