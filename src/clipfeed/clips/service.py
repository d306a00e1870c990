"""Clip use cases: drafts, reads with visibility rules, owner-only edits, deletion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.clips.models import (
    MAX_CAPTION,
    MAX_HASHTAGS,
    Clip,
    ClipCreate,
    ClipPage,
    ClipPublic,
    ClipStatus,
    ClipUpdate,
    Visibility,
    hashtags_in,
    normalise_hashtags,
)
from clipfeed.core import contract
from clipfeed.core.errors import Forbidden, Invalid, NotFound
from clipfeed.core.ids import IdGenerator
from clipfeed.core.pagination import id_page
from clipfeed.infra.blobs import BlobStore
from clipfeed.infra.db import Database, utcnow
from clipfeed.runtime.outbox import Outbox


def media_prefix(clip_id: int) -> str:
    """Every object of a clip lives under this prefix (renditions, images, raw master)."""
    return f"clips/{clip_id}/"


def _tags(caption: str, tags: list[str]) -> list[str]:
    try:
        return normalise_hashtags(tags, caption)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc


def can_view(clip: Clip, viewer_id: int | None) -> bool:
    """Owners see their own clips in any state but deleted; others see ready public/unlisted."""
    if clip.status == ClipStatus.deleted.value:
        return False
    if viewer_id == clip.owner_id:
        return True
    return clip.status == ClipStatus.ready.value and clip.visibility != Visibility.private.value


async def create_draft(*, db: Database, outbox: Outbox, ids: IdGenerator, owner_id: int,
                       request: ClipCreate) -> Clip:
    clip = Clip(id=ids.next_id(), owner_id=owner_id, caption=request.caption,
                hashtags=_tags(request.caption, request.hashtags),
                visibility=request.visibility.value, status=ClipStatus.uploading.value, media={})
    async with db.session() as session:
        session.add(clip)
        outbox.record(session, contract.CLIP_CREATED, key=clip.id, actor_id=owner_id,
                      payload=_event_payload(clip))
    return clip


async def get(*, db: Database, clip_id: int, viewer_id: int | None) -> Clip:
    async with db.session() as session:
        clip = await session.get(Clip, clip_id)
    if clip is None or not can_view(clip, viewer_id):
        # Not "forbidden": a private clip's existence is itself private.
        raise NotFound(f"no clip {clip_id}")
    return clip


async def get_many(*, db: Database, clip_ids: list[int]) -> dict[int, Clip]:
    if not clip_ids:
        return {}
    async with db.read_session() as session:
        rows = await session.scalars(sa.select(Clip).where(Clip.id.in_(set(clip_ids))))
        return {c.id: c for c in rows}


async def _owned(session: AsyncSession, clip_id: int, user_id: int) -> Clip:
    clip = await session.get(Clip, clip_id, with_for_update=True)
    if clip is None or not can_view(clip, user_id):
        raise NotFound(f"no clip {clip_id}")
    if clip.owner_id != user_id:
        raise Forbidden("only the creator can change or delete this clip")
    return clip


async def update(*, db: Database, outbox: Outbox, clip_id: int, user_id: int,
                 request: ClipUpdate) -> Clip:
    async with db.session() as session:
        clip = await _owned(session, clip_id, user_id)
        changes = request.model_dump(exclude_unset=True, exclude_none=True)
        if "hashtags" in changes:
            explicit = changes["hashtags"]
        else:  # keep the tags that were given explicitly, not those of the old caption
            from_caption = set(hashtags_in(clip.caption))
            explicit = [t for t in clip.hashtags or [] if t not in from_caption]
        if "caption" in changes:
            clip.caption = changes["caption"]
        clip.hashtags = _tags(clip.caption, explicit)
        if "visibility" in changes:
            clip.visibility = Visibility(changes["visibility"]).value
        outbox.record(session, contract.CLIP_UPDATED, key=clip.id, actor_id=user_id,
                      payload=contract.ClipUpdated(**_event_payload(clip).model_dump(), fields=sorted(changes)))
    return clip


async def delete(*, db: Database, blobs: BlobStore, outbox: Outbox, clip_id: int, user_id: int,
                 as_moderator: bool = False) -> None:
    """Marks the clip deleted (it vanishes from every read at once), then removes its media.
    A process killed after the commit leaves media behind; the lifecycle job's orphan sweep
    removes objects of deleted clips."""
    async with db.session() as session:
        clip = await session.get(Clip, clip_id, with_for_update=True)
        if clip is None or clip.status == ClipStatus.deleted.value:
            raise NotFound(f"no clip {clip_id}")
        if clip.owner_id != user_id and not as_moderator:
            if not can_view(clip, user_id):
                raise NotFound(f"no clip {clip_id}")
            raise Forbidden("only the creator can delete this clip")
        _mark_deleted(session, outbox, clip, actor_id=user_id)
    await remove_media(blobs=blobs, clip_id=clip_id)


async def delete_all_of_owner(*, session: AsyncSession, outbox: Outbox, owner_id: int) -> list[int]:
    """Inside the caller's transaction (account deletion); returns the clips to clean up."""
    clips = (await session.scalars(sa.select(Clip).where(
        Clip.owner_id == owner_id, Clip.status != ClipStatus.deleted.value))).all()
    for clip in clips:
        _mark_deleted(session, outbox, clip, actor_id=owner_id)
    return [c.id for c in clips]


def _mark_deleted(session: AsyncSession, outbox: Outbox, clip: Clip, *, actor_id: int) -> None:
    clip.status = ClipStatus.deleted.value
    clip.caption = ""
    clip.hashtags = []
    clip.media = {}
    outbox.record(session, contract.CLIP_DELETED, key=clip.id, actor_id=actor_id,
                  payload=contract.ClipDeleted(clip_id=clip.id, owner_id=clip.owner_id))


async def remove_media(*, blobs: BlobStore, clip_id: int) -> int:
    return await blobs.delete_prefix(media_prefix(clip_id))


class StatusChanged(Exception):
    """``set_status(only_from=...)`` found the clip in another status: someone moved it first."""


async def set_status(*, db: Database, outbox: Outbox, clip_id: int, status: ClipStatus,
                     reason: str | None = None, media: dict[str, Any] | None = None,
                     technical: dict[str, int] | None = None, only_from: ClipStatus | None = None) -> Clip:
    """Used by the upload and media pipelines to move a clip through its states.

    ``only_from`` fences the move: it happens only if the clip is in that status, else
    ``StatusChanged`` is raised and nothing (no event either) is written. The check is the
    transaction's first statement, a conditional UPDATE, so two writers racing (two media
    workers finishing one job) cannot both pass it, on SQLite or PostgreSQL."""
    async with db.session() as session:
        if only_from is not None:
            moved = await session.execute(sa.update(Clip).where(
                Clip.id == clip_id, Clip.status == only_from.value).values(status=status.value)
                .execution_options(synchronize_session=False))
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise StatusChanged(f"clip {clip_id} is no longer {only_from.value}")
        clip = await session.get(Clip, clip_id, with_for_update=True)
        if clip is None:
            raise NotFound(f"no clip {clip_id}")
        clip.status = status.value
        clip.status_reason = reason
        if media is not None:
            clip.media = media
        for field, value in (technical or {}).items():
            setattr(clip, field, value)
        if status == ClipStatus.ready and clip.published_at is None:
            clip.published_at = utcnow()
        outbox.record(session, contract.CLIP_STATUS[status.value], key=clip.id,
                      actor_id=clip.owner_id, payload=_event_payload(clip))
    return clip


class DraftUnavailable(Exception):
    """The draft a video was meant for is gone, not the uploader's, or has a video already."""


async def start_processing(session: AsyncSession, *, outbox: Outbox, clip_id: int, owner_id: int,
                           master_key: str, new_clip: ClipCreate | None,
                           technical: dict[str, int] | None = None) -> Clip:
    """Inside the caller's transaction (the upload hand-off): the clip gets its raw master and
    moves to ``processing``. With ``new_clip`` the clip is created with ID ``clip_id``; else the
    owner's draft ``clip_id`` (still ``uploading``) is used, or ``DraftUnavailable`` raised."""
    if new_clip is not None:
        clip = Clip(id=clip_id, owner_id=owner_id, caption=new_clip.caption,
                    hashtags=_tags(new_clip.caption, new_clip.hashtags),
                    visibility=new_clip.visibility.value, status=ClipStatus.uploading.value, media={})
        session.add(clip)
        await session.flush()
        outbox.record(session, contract.CLIP_CREATED, key=clip.id, actor_id=owner_id,
                      payload=_event_payload(clip))
    else:
        found = await session.get(Clip, clip_id, with_for_update=True)
        if found is None or found.owner_id != owner_id or found.status != ClipStatus.uploading.value:
            raise DraftUnavailable(f"draft clip {clip_id} is no longer waiting for a video")
        clip = found
    clip.media = {**(clip.media or {}), "master": master_key}
    for field, value in (technical or {}).items():
        setattr(clip, field, value)
    clip.status = ClipStatus.processing.value
    clip.status_reason = None
    outbox.record(session, contract.CLIP_STATUS[ClipStatus.processing.value], key=clip.id,
                  actor_id=owner_id, payload=_event_payload(clip))
    return clip


async def list_by_owner(*, db: Database, owner_id: int, viewer_id: int | None,
                        cursor: str | None, limit: int) -> tuple[list[Clip], str | None]:
    query = sa.select(Clip).where(Clip.owner_id == owner_id,
                                  Clip.status != ClipStatus.deleted.value)
    if viewer_id != owner_id:
        query = query.where(Clip.status == ClipStatus.ready.value,
                            Clip.visibility == Visibility.public.value)
    return await id_page(db, query, Clip.id, cursor=cursor, limit=limit)


async def live_ids_of_owner(*, db: Database, owner_id: int) -> list[int]:
    """Every ready public clip of one creator (what feeds and trending may list)."""
    async with db.session() as session:
        return list((await session.scalars(sa.select(Clip.id).where(
            Clip.owner_id == owner_id, Clip.status == ClipStatus.ready.value,
            Clip.visibility == Visibility.public.value))).all())


def media_urls(clip: Clip) -> dict[str, str]:
    """Plain origin URLs of the servable pointers; the raw upload is never one of them."""
    return {name: f"/media/{key}" for name, key in (clip.media or {}).items()
            if isinstance(key, str) and name != "master" and "/raw/" not in key}


def quality_flags(clip: Clip) -> list[str]:
    """What the media pipeline flagged in the video (black, frozen, silent, ...), for its owner."""
    quality = (clip.media or {}).get("quality") or {}
    return [str(flag) for flag in quality.get("flags") or []]


def public_view(clip: Clip, *, owner_handle: str | None = None,
                url_for: Callable[[Clip], dict[str, str]] = media_urls,
                viewer_id: int | None = None, owner_avatar_url: str | None = None) -> ClipPublic:
    """The clip as the API shows it; ``viewer_id`` being the owner adds what only they see."""
    return ClipPublic(id=str(clip.id), owner_id=str(clip.owner_id), owner_handle=owner_handle,
                      owner_avatar_url=owner_avatar_url,
                      caption=clip.caption, hashtags=list(clip.hashtags or []),
                      visibility=Visibility(clip.visibility), status=ClipStatus(clip.status),
                      status_reason=clip.status_reason, duration_ms=clip.duration_ms,
                      width=clip.width, height=clip.height,
                      media=url_for(clip) if clip.status == ClipStatus.ready.value else {},
                      quality_flags=quality_flags(clip) if viewer_id == clip.owner_id else None,
                      created_at=clip.created_at, published_at=clip.published_at)


def page_view(clips: list[Clip], next_cursor: str | None, *, owner_handle: str | None = None,
              url_for: Callable[[Clip], dict[str, str]] = media_urls,
              viewer_id: int | None = None) -> ClipPage:
    return ClipPage(items=[public_view(c, owner_handle=owner_handle, url_for=url_for, viewer_id=viewer_id)
                           for c in clips], next_cursor=next_cursor)


def _event_payload(clip: Clip) -> contract.ClipChanged:
    media = clip.media or {}
    remote = isinstance(media.get("remote"), dict) or isinstance(media.get("origin"), dict)  # another server's
    return contract.ClipChanged(clip_id=clip.id, owner_id=clip.owner_id, status=clip.status,
                                visibility=clip.visibility, hashtags=list(clip.hashtags or []),
                                **({"remote": True} if remote else {}))


async def publishing_stats(*, db: Database, since: list[datetime]) -> tuple[int, list[int]]:
    """Ready public clips, and for each moment of ``since`` how many creators published one
    after it (NodeInfo's posts and active users)."""
    async with db.session() as session:
        live = sa.and_(Clip.status == ClipStatus.ready.value, Clip.visibility == Visibility.public.value)
        posts = int(await session.scalar(sa.select(sa.func.count()).select_from(Clip).where(live)) or 0)
        active = [int(await session.scalar(sa.select(sa.func.count(sa.distinct(Clip.owner_id))).where(
            live, Clip.published_at >= moment)) or 0) for moment in since]
    return posts, active


async def store_remote(*, db: Database, outbox: Outbox, ids: IdGenerator, clip_id: int | None, owner_id: int,
                       caption: str, hashtags: list[str], visibility: Visibility, duration_ms: int | None,
                       width: int | None, height: int | None, published_at: datetime | None,
                       media: dict[str, str], cache_from: str | None = None) -> Clip:
    """A clip of another server (federation), as a reference: ready at once, its media the
    origin's URLs (``media["remote"]``, played from there). New: ``clip.ready``; known
    (``clip_id``): updated in place, ``clip.updated``. Feeds, counts and comments treat it as
    any clip; the event says it is remote, so discovery can leave it out.

    ``cache_from``: the origin's file to cache here (``federation/media_cache.py``). A media
    job for it is queued in this transaction unless that file was cached or tried already; a
    clip cached from a file its origin still names keeps our copy (``media["origin"]`` then
    holds the origin's URLs). A crash before the commit stores neither clip nor job."""
    async with db.session() as session:
        clip = await session.get(Clip, clip_id, with_for_update=True) if clip_id is not None else None
        created = clip is None
        if clip is None:
            clip = Clip(id=ids.next_id(), owner_id=owner_id, status=ClipStatus.ready.value,
                        published_at=published_at or utcnow())
            session.add(clip)
        elif clip.status == ClipStatus.deleted.value:
            return clip  # deleted here (its origin said so, or a moderator): stays deleted
        before = dict(clip.media or {})
        clip.caption = caption[:MAX_CAPTION]
        clip.hashtags = _tags(clip.caption, hashtags[:MAX_HASHTAGS])
        clip.visibility = visibility.value
        cached = before.get("origin")
        if isinstance(cached, dict) and cached.get("mp4") and cached.get("mp4") == media.get("mp4"):
            clip.media = {**before, "origin": media}  # our copy of the same file stays
        else:
            clip.duration_ms, clip.width, clip.height = duration_ms, width, height
            clip.media = {"remote": media}
            if cache_from is not None and before.get("caching") != cache_from:
                clip.media["caching"] = cache_from  # tried once per file, whatever the outcome
                _queue_cache(session, outbox, clip, cache_from)
            elif before.get("caching"):
                clip.media["caching"] = before["caching"]
        await session.flush()
        payload = _event_payload(clip)
        if created:
            outbox.record(session, contract.CLIP_READY, key=clip.id, actor_id=owner_id, payload=payload)
        else:
            outbox.record(session, contract.CLIP_UPDATED, key=clip.id, actor_id=owner_id,
                          payload=contract.ClipUpdated(**payload.model_dump(), fields=["caption", "media"]))
    return clip


def _queue_cache(session: AsyncSession, outbox: Outbox, clip: Clip, url: str) -> None:
    outbox.record(session, contract.MEDIA_UPLOADED, key=clip.id, actor_id=clip.owner_id,
                  payload=contract.MediaUploaded(clip_id=clip.id, owner_id=clip.owner_id,
                                                 master_key=f"clips/{clip.id}/raw/origin.mp4",
                                                 filename="origin.mp4", source_url=url))


async def cache_remote(*, db: Database, outbox: Outbox, clip_id: int, source_url: str, status: ClipStatus,
                       reason: str | None, media: dict[str, Any], technical: dict[str, int] | None) -> bool:
    """The media job for a remote clip's file (``source_url``) is done: the clip now plays from
    our objects (``media``), its origin's URLs kept in ``media["origin"]``, and takes the
    screening's outcome (``status``: ready stays ready, review or rejected take it down as an
    upload's would). Fenced: only a ready clip still naming that file takes it (False
    otherwise: its origin changed or deleted it meanwhile, and a newer job, if any, decides)."""
    async with db.session() as session:
        clip = await session.get(Clip, clip_id, with_for_update=True)
        streamed = _streamed_from(clip, source_url)
        if clip is None or streamed is None or clip.status != ClipStatus.ready.value:
            return False
        clip.media = {**media, "origin": streamed}
        for field, value in (technical or {}).items():
            setattr(clip, field, value)
        if status != ClipStatus.ready:
            clip.status, clip.status_reason = status.value, reason
        await session.flush()
        payload = _event_payload(clip)
        if status == ClipStatus.ready:
            outbox.record(session, contract.CLIP_UPDATED, key=clip.id, actor_id=clip.owner_id,
                          payload=contract.ClipUpdated(**payload.model_dump(), fields=["media"]))
        else:
            outbox.record(session, contract.CLIP_STATUS[status.value], key=clip.id, actor_id=clip.owner_id,
                          payload=payload)
    return True


def _streamed_from(clip: Clip | None, source_url: str) -> dict[str, Any] | None:
    """The origin's URLs of a remote clip still streamed from the file ``source_url``, else None."""
    streamed = (clip.media or {}).get("remote") if clip is not None else None
    return streamed if isinstance(streamed, dict) and streamed.get("mp4") == source_url else None


async def note_cache_failure(*, db: Database, clip_id: int, source_url: str, reason: str) -> None:
    """Why a remote clip's file was not cached (``media["cache_error"]``, for admins); the clip
    keeps streaming from its origin. Only while it still names that file."""
    async with db.session() as session:
        clip = await session.get(Clip, clip_id, with_for_update=True)
        if clip is not None and _streamed_from(clip, source_url) is not None:
            clip.media = {**(clip.media or {}), "cache_error": reason[:300]}


async def remove_remote(*, db: Database, outbox: Outbox, clip_id: int, owner_id: int) -> bool:
    """Its origin deleted a remote clip (or the server was defederated): gone here too."""
    async with db.session() as session:
        clip = await session.get(Clip, clip_id, with_for_update=True)
        if clip is None or clip.owner_id != owner_id or clip.status == ClipStatus.deleted.value:
            return False
        _mark_deleted(session, outbox, clip, actor_id=owner_id)
    return True
