"""Our own accounts and clips as ActivityPub documents (what other servers fetch and what the
outbox sends). Only what anyone may see leaves the server: a ready public or unlisted clip, a
local account in good standing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips import service as clips
from clipfeed.clips.models import Clip, ClipStatus, Visibility
from clipfeed.core.errors import Gone, NotFound
from clipfeed.delivery.playback import playback_info
from clipfeed.federation import documents, objects, remote
from clipfeed.federation.documents import Uris
from clipfeed.federation.keys import public_pem
from clipfeed.federation.models import INSTANCE_ACTOR
from clipfeed.instance import service as instance
from clipfeed.social import comment_reads
from clipfeed.social.models import CommentStatus

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


def uris(*, services: Services) -> Uris:
    return Uris(services.settings.base_url)


def federates(clip: Clip) -> bool:
    """Whether other servers may have this clip: ready, and public or unlisted."""
    return clip.status == ClipStatus.ready.value and clip.visibility in (Visibility.public.value,
                                                                       Visibility.unlisted.value)


async def local_user(user_id: int, *, services: Services) -> User:
    """A local account in good standing; 410 for a deleted one (other servers then drop it)."""
    found = (await accounts.get_many(db=services.db, user_ids=[user_id])).get(user_id)
    if found is not None and found.domain is None and found.deleted_at is not None:
        raise Gone(f"actor {user_id} was deleted")
    if found is None or found.domain is not None or found.suspended_at:
        raise NotFound(f"no actor {user_id}")
    return found


async def person(user: User, *, services: Services) -> dict[str, Any]:
    return documents.person(
        uris(services=services), user_id=user.id, handle=user.handle, display_name=user.display_name,
        bio=user.bio, avatar_url=accounts.avatar_url(user, settings=services.settings),
        public_pem=await public_pem(user.id, services=services), created_at=user.created_at)


async def instance_actor(*, services: Services) -> dict[str, Any]:
    pem = await public_pem(INSTANCE_ACTOR, services=services)
    return documents.instance_actor(uris(services=services), public_pem=pem)


async def video(clip: Clip, *, services: Services) -> dict[str, Any]:
    info = await playback_info(services=services, clip=clip, viewer_id=None, region=None, network=None)
    language = (clip.media or {}).get("language")
    return documents.video(
        uris(services=services), clip_id=clip.id, owner_id=clip.owner_id, caption=clip.caption,
        hashtags=list(clip.hashtags or []), visibility=clip.visibility, duration_ms=clip.duration_ms,
        width=clip.width, height=clip.height, language=language if isinstance(language, str) else None,
        published=clip.published_at or clip.created_at, updated=clip.updated_at, hls_url=info.hls_url,
        mp4_url=info.mp4_url, poster_url=info.poster_jpeg_url or info.poster_url)


async def comment_note(comment_id: int, *, services: Services) -> dict[str, Any]:
    """A visible comment on a clip anyone may see, as a ``Note`` (what a reply's ``inReplyTo``
    or a server checking a Create fetches)."""
    comment = await comment_reads.find(db=services.db, comment_id=comment_id)
    if comment is None or comment.status != CommentStatus.visible.value:
        raise NotFound(f"no comment {comment_id}")
    clip = (await clips.get_many(db=services.db, clip_ids=[comment.clip_id])).get(comment.clip_id)
    if clip is None or not federates(clip):
        raise NotFound(f"no comment {comment_id}")
    names = uris(services=services)
    actors = await remote.actors([comment.author_id, clip.owner_id], services=services)
    if comment.author_id in actors:  # another server's comment: that server speaks for it
        raise NotFound(f"no comment {comment_id}")
    author = names.actor(comment.author_id)
    owner = actors[clip.owner_id].uri if clip.owner_id in actors else names.actor(clip.owner_id)
    origin = await objects.uri_of("clip", clip.id, services=services)
    parent = await objects.uri_of("comment", comment.parent_id, services=services) if comment.parent_id else None
    parent_uri = parent.uri if parent else (names.comment(comment.parent_id) if comment.parent_id
                                            else origin.uri if origin else names.clip(clip.id))
    return documents.note(names, comment_id=comment.id, author_uri=author, clip_id=clip.id, parent_uri=parent_uri,
                          body=comment.body, clip_owner_uri=owner, published=comment.created_at)


async def public_clip(clip_id: int, *, services: Services) -> Clip:
    clip = (await clips.get_many(db=services.db, clip_ids=[clip_id])).get(clip_id)
    if clip is None or not federates(clip):
        raise NotFound(f"no clip {clip_id}")
    await local_user(clip.owner_id, services=services)
    return clip


async def outbox(user: User, *, services: Services, shown: int = 20) -> dict[str, Any]:
    """The account's public clips, newest first, as the ``Create`` activities that published them."""
    names = uris(services=services)
    clip_ids = sorted(await clips.live_ids_of_owner(db=services.db, owner_id=user.id), reverse=True)
    actor = names.actor(user.id)
    items = [{"id": f"{names.clip(clip_id)}/activity", "type": "Create", "actor": actor,
              "object": names.clip(clip_id), "to": [documents.AS_PUBLIC]} for clip_id in clip_ids[:shown]]
    return documents.collection(f"{actor}/outbox", total=len(clip_ids), items=items)


async def nodeinfo(*, services: Services) -> dict[str, Any]:
    settings = await instance.effective(services=services)
    now = datetime.now(UTC)
    posts, (month, half_year) = await clips.publishing_stats(
        db=services.db, since=[now - timedelta(days=30), now - timedelta(days=180)])
    return documents.nodeinfo(uris(services=services), open_registrations=settings.registration_mode == "open",
                              users=await accounts.count_local(db=services.db), active_month=month,
                              active_half_year=half_year, local_posts=posts, name=settings.instance_name,
                              description=settings.instance_description)
