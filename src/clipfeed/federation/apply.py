"""The federation worker's inbox side: what each received activity does here.

Remote accounts act through the same social functions as local ones (``follows.follow``,
``engagement.set_like``, ``comments.create`` …), so blocks, comment settings, visibility,
counts and notifications hold for them unchanged. Each activity's effects are idempotent (a
follow that exists, a like already there, a Note already stored change nothing), so a worker
killed half-way re-applies the redelivered activity safely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import structlog

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips import service as clips
from clipfeed.core import contract
from clipfeed.core.errors import ClipfeedError
from clipfeed.core.events import Event
from clipfeed.core.text import scrub
from clipfeed.federation import admin, deliveries, flags, publish, remote, videos
from clipfeed.federation.documents import content_of, plain_text
from clipfeed.federation.objects import remember, stored
from clipfeed.runtime.consumers import EventByEvent
from clipfeed.social import blocks, comments, engagement, follows, shares
from clipfeed.social.schemas import MAX_COMMENT, CommentCreate, ShareChannel, ShareCreate

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)


class InboxWorker(EventByEvent):
    group: ClassVar[str] = contract.FEDERATION_IN
    topics: ClassVar[tuple[str, ...]] = (contract.Topic.FEDERATION_INBOX,)
    batch_size: ClassVar[int] = 100

    async def handle_event(self, event: Event) -> None:
        try:
            received = contract.ACTIVITY_RECEIVED.parse(event)
        except ValueError:
            return
        sender = (await accounts.get_many(db=self.services.db, user_ids=[received.sender_id])).get(received.sender_id)
        if sender is None or sender.suspended_at is not None or sender.deleted_at is not None:
            return  # its server was suspended after the activity was queued
        try:
            await apply(received.activity, sender=sender, services=self.services)
        except ClipfeedError as exc:
            # Refused by the rules (a block, comments off, a clip gone): the activity is done.
            log.info("federation.activity_refused", type=received.activity.get("type"), reason=exc.detail)
        except ValueError as exc:  # a shape our models refuse: retrying cannot change it
            log.info("federation.activity_refused", type=received.activity.get("type"), reason=str(exc)[:300])


async def apply(activity: dict[str, Any], *, sender: User, services: Services) -> None:
    kind, target = activity.get("type"), activity.get("object")
    if kind == "Follow":
        await _follow(activity, sender=sender, services=services)
    elif kind == "Undo":
        await _undo(target, sender=sender, services=services)
    elif kind == "Like":
        clip_id = _local_clip(target, services=services)
        if clip_id is not None:
            await engagement.set_like(services=services, user=sender, clip_id=clip_id, liked=True)
            await remember(activity, "like", clip_id, clip_id, sender=sender, services=services)
    elif kind == "Announce":
        clip_id = _local_clip(target, services=services)
        # Shared, then remembered: a worker dying between the two counts the share twice on
        # redelivery rather than losing it.
        if clip_id is not None and await stored(str(activity["id"]), services=services) is None:
            await shares.share(services=services, user=sender, clip_id=clip_id,
                               request=ShareCreate(channel=ShareChannel.fediverse))
            await remember(activity, "share", clip_id, clip_id, sender=sender, services=services)
    elif kind in ("Create", "Update") and videos.is_video_post(target):  # a Loops post: a clip, not a comment
        await videos.store(target, sender=sender, services=services)
    elif kind == "Create" and isinstance(target, dict) and target.get("type") == "Note":
        await _reply(target, sender=sender, services=services)
    elif kind in ("Create", "Update") and isinstance(target, dict) and target.get("type") == "Video":
        await videos.store(target, sender=sender, services=services)
    elif kind == "Delete":
        await _delete(target, sender=sender, services=services)
    elif kind == "Update" and isinstance(target, dict) and target.get("id") == activity.get("actor"):
        await remote.fetch_actor(str(target["id"]), services=services)
    elif kind == "Flag":
        await flags.receive(activity, sender=sender, services=services)
    elif kind == "Block":
        blocked = _local_user_id(target, services=services)
        if blocked is not None:
            user = await publish.local_user(blocked, services=services)
            await blocks.block(services=services, blocker=sender, blocked=user)
    elif kind == "Reject" and isinstance(target, dict) and target.get("type") == "Follow":
        followee = _local_user_id(target.get("actor"), services=services)
        if followee is not None:
            await follows.unfollow(services=services, follower=await publish.local_user(followee, services=services),
                                   followee=sender)


async def _follow(activity: dict[str, Any], *, sender: User, services: Services) -> None:
    followee_id = _local_user_id(activity.get("object"), services=services)
    if followee_id is None:
        return
    followee = await publish.local_user(followee_id, services=services)
    try:
        await follows.follow(services=services, follower=sender, followee=followee)
        answer = "Accept"
        # An Undo may name the Follow by its ID alone (bovine, Pleroma do).
        await remember(activity, "follow", followee.id, 0, sender=sender, services=services)
    except ClipfeedError:  # blocked either way
        answer = "Reject"
    await deliveries.send_to(sender.id, kind=answer, signer_id=followee.id, object=activity, services=services)


async def _undo(target: Any, *, sender: User, services: Services) -> None:
    """Take back a Follow or a Like, embedded or named by its ID."""
    if isinstance(target, str):
        found = await stored(target, services=services)
        if found is None or found.actor_id != sender.id:
            return
        if found.kind == "follow":
            await follows.unfollow(services=services, follower=sender,
                                   followee=await publish.local_user(found.local_id, services=services))
        elif found.kind == "like":
            await engagement.set_like(services=services, user=sender, clip_id=found.clip_id, liked=False)
        return
    if not isinstance(target, dict):
        return
    kind = target.get("type")
    if kind == "Follow":
        followee_id = _local_user_id(target.get("object"), services=services)
        if followee_id is not None:
            await follows.unfollow(services=services, follower=sender,
                                   followee=await publish.local_user(followee_id, services=services))
    elif kind == "Like":
        clip_id = _local_clip(target.get("object"), services=services)
        if clip_id is not None:
            await engagement.set_like(services=services, user=sender, clip_id=clip_id, liked=False)


async def _reply(note: dict[str, Any], *, sender: User, services: Services) -> None:
    uri, parent = note.get("id"), note.get("inReplyTo")
    if not isinstance(uri, str) or remote.authority_of(uri) != (sender.domain or ""):
        return
    clip_id = _local_clip(parent, services=services)
    parent_id = None
    if clip_id is None and isinstance(parent, str):  # a reply to a remote reply stored here
        found = await stored(parent, services=services)
        if found is not None and found.kind == "comment":
            clip_id, parent_id = found.clip_id, found.local_id
    if clip_id is None or await stored(uri, services=services) is not None:
        return
    body = scrub(plain_text(content_of(note)), multiline=True, limit=MAX_COMMENT) or "…"
    created = await comments.create(services=services, user=sender, clip_id=clip_id,
                                    request=CommentCreate(body=body, parent_id=str(parent_id) if parent_id else None))
    await remember(note, "comment", int(created.id), clip_id, sender=sender, services=services)


async def _delete(target: Any, *, sender: User, services: Services) -> None:
    uri = target.get("id") if isinstance(target, dict) else target
    if not isinstance(uri, str):
        return
    actor = (await remote.actors([sender.id], services=services)).get(sender.id)
    if actor is not None and uri == actor.uri:  # the account itself was deleted on its server
        await admin.suspend_remote_accounts([sender.id], suspended=True, services=services,
                                            reason="deleted on its own server")
        return
    found = await stored(uri, services=services)
    if found is None or found.actor_id != sender.id:
        return
    if found.kind == "comment":
        await comments.delete(services=services, user=sender, clip_id=found.clip_id, comment_id=found.local_id)
    elif found.kind == "clip":
        await clips.remove_remote(db=services.db, outbox=services.outbox, clip_id=found.local_id, owner_id=sender.id)


def _uri(value: Any) -> str | None:
    value = value.get("id") if isinstance(value, dict) else value
    return value if isinstance(value, str) else None


def _local_clip(value: Any, *, services: Services) -> int | None:
    uri = _uri(value)
    return publish.uris(services=services).local_id(uri, "clips") if uri else None


def _local_user_id(value: Any, *, services: Services) -> int | None:
    uri = _uri(value)
    return publish.uris(services=services).local_id(uri, "users") if uri else None
