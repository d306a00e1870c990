"""Moderators' routes for the perceptual-hash blocklist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import ValidationError

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.core.errors import BadRequest, Forbidden, Invalid, UnsupportedMediaType
from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.core.text import Paragraphs
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.params import BlocklistEntryId
from clipfeed.media import blocklist
from clipfeed.media.blocklist import BlocklistFromClip, BlocklistPage, BlocklistPublic

router = APIRouter(prefix="/v1", tags=["moderation"])
PREFIX = "/v1/moderation/blocklist"


def _moderator(user: User) -> None:
    if not user.is_moderator:
        raise Forbidden("moderators only")


@router.post("/moderation/blocklist", status_code=status.HTTP_201_CREATED, response_model=BlocklistPublic,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": BlocklistFromClip.model_json_schema()},
                 "video/*": {"schema": {"type": "string", "format": "binary"}}}}})
async def add(request: Request, user: CurrentUser, services: Deps,
              reason: Annotated[Paragraphs, Query(max_length=500, description="with a file body")] = ""
              ) -> BlocklistPublic:
    """Blocklist prohibited content: JSON ``{clip_id, reason}`` for a clip on the platform, or
    the video file itself as the body (``Content-Type: video/*`` or
    ``application/octet-stream``) with ``?reason=``. Only the fingerprint is kept."""
    _moderator(user)
    await services.limiter.hit("blocklist", str(user.id), limit=60, per_seconds=3600)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = BlocklistFromClip.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False)
            raise Invalid("expected {clip_id, reason}", errors=errors) from exc
        entry = await blocklist.add_from_clip(db=services.db, outbox=services.outbox, ids=services.ids,
                                              clip_id=body.clip_id, reason=body.reason, moderator_id=user.id)
    elif kind.startswith("video/") or kind == "application/octet-stream":
        entry = await blocklist.add_from_file(
            db=services.db, outbox=services.outbox, ids=services.ids, body=request.stream(),
            max_bytes=services.settings.blocklist_max_file_bytes, reason=reason, moderator_id=user.id)
    elif not kind:
        raise BadRequest("send JSON {clip_id, reason} or a video file with a Content-Type")
    else:
        raise UnsupportedMediaType("send application/json, video/* or application/octet-stream")
    return blocklist.view(entry)


@router.get("/moderation/blocklist", response_model=BlocklistPage)
async def list_entries(user: CurrentUser, services: Deps, cursor: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> BlocklistPage:
    _moderator(user)
    entries, next_cursor = await blocklist.list_entries(db=services.db, cursor=cursor, limit=limit)
    moderators = await accounts.get_many(db=services.db, user_ids=sorted({e.added_by for e in entries}))
    return BlocklistPage(items=[blocklist.view(e).model_copy(update={
        "added_by_handle": moderators[e.added_by].handle if e.added_by in moderators else None}) for e in entries],
        next_cursor=next_cursor)


@router.delete("/moderation/blocklist/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove(entry_id: BlocklistEntryId, user: CurrentUser, services: Deps) -> Response:
    _moderator(user)
    await blocklist.remove(db=services.db, outbox=services.outbox, entry_id=entry_id, moderator_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
