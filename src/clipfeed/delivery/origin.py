"""The media origin: ``GET|HEAD /media/{key}`` and ``/media/s/{kid}/{expires}/{sig}/{key}``.

Who may read what (checked on every request, so a takedown answers at once):

* only objects under ``clips/{id}/`` of a known type, never ``raw/`` (the uploaded master);
* a ready public clip: anyone, signed or not;
* a ready unlisted or private clip: only with a valid signed URL (``playback_info`` signs
  private clips for their owner only);
* a clip held for review: only with a URL signed for review (``signing.review_scope``, what
  the moderation console plays, for held and ready clips alike), never cached;
* the sound library (``sounds/...``): only with a URL signed for it (``GET /v1/sounds``);
* deleted and rejected clips: 410; anything else (unknown, processing, held for review, not
  visible without a signature): 404, so the URL space reveals nothing.

The object is read from whichever storage tier holds it (``clipfeed.storage.service.locate``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from prometheus_client import Counter
from starlette.responses import Response

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus, Visibility
from clipfeed.core.errors import ClipfeedError, Forbidden, Gone, NotFound
from clipfeed.core.identifiers import id_or_none
from clipfeed.delivery import popularity
from clipfeed.delivery.responses import CORS_HEADERS, blob_response
from clipfeed.delivery.signing import SIGNED_PREFIX, Signer, clip_scope, review_scope
from clipfeed.delivery.ttl import ERROR_CACHE_CONTROL, cache_control, lifetime, media_type
from clipfeed.http.deps import Deps
from clipfeed.infra.blobs import BlobNotFound, InvalidKey, check_key
from clipfeed.media import sounds
from clipfeed.storage import service as storage

router = APIRouter(tags=["media"])
ORIGIN_REQUESTS = Counter("clipfeed_origin_requests_total", "Media requests answered by the origin",
                          ["kind", "status"])
_CLIP_KEY = re.compile(r"^clips/([0-9]{1,19})/")
_ERROR_HEADERS = {"Cache-Control": ERROR_CACHE_CONTROL, **CORS_HEADERS}
_DENIED_HEADERS = {"Cache-Control": "no-store", **CORS_HEADERS}


@router.api_route("/media/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
async def media(path: str, request: Request, services: Deps) -> Response:
    kind = "unknown"
    try:
        response, kind = await _serve(path, request, services=services)
    except ClipfeedError as exc:
        ORIGIN_REQUESTS.labels(kind, str(exc.status)).inc()
        raise
    ORIGIN_REQUESTS.labels(kind, str(response.status_code)).inc()
    return response


def _split(path: str) -> tuple[str, tuple[str, str, str] | None]:
    """The blob key and, for a signed URL, (kid, expires, signature)."""
    parts = path.split("/", 4)
    if parts[0] == SIGNED_PREFIX:
        if len(parts) < 5:
            raise NotFound("no such media", headers=_ERROR_HEADERS)
        return parts[4], (parts[1], parts[2], parts[3])
    return path, None


async def _serve(path: str, request: Request, *, services: Deps) -> tuple[Response, str]:
    key, token = _split(path)
    if key.startswith(sounds.SCOPE):
        return await _sound(key, token, request, services=services), "sound"
    matched = _CLIP_KEY.match(key)
    kind_of = media_type(key)
    try:
        check_key(key)
    except InvalidKey:
        matched = None
    clip_id = id_or_none(matched.group(1)) if matched is not None else None
    if clip_id is None or kind_of is None:
        raise NotFound("no such media", headers=_ERROR_HEADERS)
    signed = review = False
    if token is not None:
        signer = Signer.from_settings(services.settings)
        verdict = signer.check(kid=token[0], expires=token[1], signature=token[2], scope=clip_scope(clip_id))
        if verdict == "invalid":
            verdict = signer.check(kid=token[0], expires=token[1], signature=token[2],
                                   scope=review_scope(clip_id))
            review = verdict == "ok"
        if verdict == "expired":
            raise Gone("this media link has expired; ask for a new one", headers=_DENIED_HEADERS)
        if verdict != "ok":
            raise Forbidden("this media link is not valid", headers=_DENIED_HEADERS)
        signed = True
    clip = (await clips_service.get_many(db=services.db, clip_ids=[clip_id])).get(clip_id)
    if clip is None:
        raise NotFound("no such media", headers=_ERROR_HEADERS)
    if clip.status in (ClipStatus.deleted.value, ClipStatus.rejected.value):
        raise Gone("this clip was removed", headers=_ERROR_HEADERS)
    # A moderator's review URL plays a held clip, or a reported one whatever its visibility.
    held_for_review = review and clip.status in (ClipStatus.review.value, ClipStatus.ready.value)
    if not held_for_review and (clip.status != ClipStatus.ready.value
                                or (clip.visibility != Visibility.public.value and not signed)):
        raise NotFound("no such media", headers=_ERROR_HEADERS)
    try:
        found = await storage.locate(services=services, clip_id=clip_id, key=key)
    except BlobNotFound:
        raise NotFound("no such media", headers=_ERROR_HEADERS) from None
    popular = kind_of.kind.value == "image" and await popularity.is_popular(services=services, clip_id=clip_id)
    life = lifetime(kind_of.kind, published_at=clip.published_at, popular=popular, now=datetime.now(UTC))
    control = ("private, no-store" if held_for_review
               else cache_control(life, private=clip.visibility == Visibility.private.value))
    response = blob_response(store=found.store, info=found.info, request_headers=request.headers,
                             method=request.method, content_type=kind_of.content_type, cache_control=control)
    return response, kind_of.kind.value


async def _sound(key: str, token: tuple[str, str, str] | None, request: Request, *, services: Deps) -> Response:
    """A library sound, for a URL signed with the library's scope (the editor's preview)."""
    if token is None or key not in sounds.BY_KEY:
        raise NotFound("no such media", headers=_ERROR_HEADERS)
    verdict = Signer.from_settings(services.settings).check(kid=token[0], expires=token[1], signature=token[2],
                                                            scope=sounds.SCOPE)
    if verdict == "expired":
        raise Gone("this media link has expired; ask for a new one", headers=_DENIED_HEADERS)
    if verdict != "ok":
        raise Forbidden("this media link is not valid", headers=_DENIED_HEADERS)
    try:
        info = await services.blobs.stat(key)
    except BlobNotFound:
        raise NotFound("no such media", headers=_ERROR_HEADERS) from None
    return blob_response(store=services.blobs, info=info, request_headers=request.headers, method=request.method,
                         content_type="audio/mp4", cache_control="private, max-age=3600")
