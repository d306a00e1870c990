"""The federation worker's outbox side: local events that other servers must hear of, turned
into activities queued for delivery.

| local event | activity | to |
|---|---|---|
| ``clip.ready`` (public or unlisted) | ``Create`` ``Video`` | the creator's remote followers |
| ``clip.updated`` | ``Update`` ``Video``, or ``Delete`` when it became private | the same |
| ``clip.deleted``, ``clip.rejected``, ``clip.review`` (once published) | ``Delete`` ``Tombstone`` | the same |
| ``follow.added`` / ``follow.removed`` by a local user of a remote one | ``Follow`` / ``Undo`` | the followee |
| ``follow.removed`` of a remote follower, ended by the local followee (a block) | ``Reject`` | the follower |
| ``block.added`` of a remote account | ``Block`` | the blocked account |
| ``user.updated`` | ``Update`` ``Person`` | the user's remote followers |
| ``like.added`` / ``like.removed`` of another server's clip | ``Like`` / ``Undo`` | the clip's creator |
| ``comment.created`` / ``.deleted`` on another server's clip | ``Create`` ``Note`` / ``Delete`` | its creator |
| ``user.deleted`` | ``Delete`` of the actor | every server we ever delivered to |
| ``moderation.case_opened`` by a report of another server's content | ``Flag`` (from the server actor) | that server |
| ``share.created`` (``fediverse``) by a local user | ``Announce`` (a boost) | their followers, the clip's server |

Each activity's ID comes from the event's ID, so an event handled twice (a worker died after
queueing) is one activity to its receivers, who drop the repeat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips
from clipfeed.core import contract
from clipfeed.core.errors import NotFound
from clipfeed.core.events import Event
from clipfeed.federation import deliveries, documents, flags, objects, publish, remote
from clipfeed.infra.db import utcnow
from clipfeed.runtime.consumers import EventByEvent
from clipfeed.social import comment_reads
from clipfeed.social.schemas import ShareChannel

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

_TAKEN_DOWN = {contract.CLIP_DELETED.name, contract.CLIP_REJECTED.name, contract.CLIP_STATUS["review"].name}


class OutboxWorker(EventByEvent):
    group: ClassVar[str] = contract.FEDERATION_OUT
    topics: ClassVar[tuple[str, ...]] = (contract.Topic.CLIPS, contract.Topic.SOCIAL, contract.Topic.USERS,
                                         contract.Topic.MODERATION)

    async def handle_event(self, event: Event) -> None:
        if self.services.settings.federation_mode == "closed":
            return
        await publish_event(event, services=self.services)


async def publish_event(event: Event, *, services: Services) -> None:
    name = event.type
    if name == contract.CLIP_READY.name or name == contract.CLIP_UPDATED.name or name in _TAKEN_DOWN:
        await _clip(event, services=services)
    elif name in (contract.FOLLOW_ADDED.name, contract.FOLLOW_REMOVED.name):
        await _follow(event, contract.FOLLOW_ADDED.parse_payload(event.payload),
                      added=name == contract.FOLLOW_ADDED.name, services=services)
    elif name == contract.BLOCK_ADDED.name:
        block = contract.BLOCK_ADDED.parse(event)
        users = await accounts.get_many(db=services.db, user_ids=[block.user_id, block.blocked_id])
        blocker, blocked = users.get(block.user_id), users.get(block.blocked_id)
        if blocker and blocked and blocker.domain is None and blocked.domain is not None:
            target = (await remote.actors([blocked.id], services=services)).get(blocked.id)
            if target is not None:
                await deliveries.send_to(blocked.id, kind="Block", signer_id=blocker.id, object=target.uri,
                                         services=services)
    elif name in (contract.LIKE_ADDED.name, contract.LIKE_REMOVED.name):
        like = contract.LIKE_ADDED.parse_payload(event.payload)
        await _remote_like(event, like, added=name == contract.LIKE_ADDED.name, services=services)
    elif name in (contract.COMMENT_CREATED.name, contract.COMMENT_DELETED.name):
        await _remote_comment(event, services=services)
    elif name == contract.USER_DELETED.name:
        await _account_deleted(event, services=services)
    elif name == contract.CASE_OPENED.name:
        await flags.forward(contract.CASE_OPENED.parse(event), event_id=event.id, services=services)
    elif name == contract.USER_UPDATED.name:
        await send_profile(int(event.key), event_id=event.id, services=services)
    elif name == contract.SHARE_CREATED.name:
        share = contract.SHARE_CREATED.parse(event)
        if share.channel == ShareChannel.fediverse.value:
            await _boost(event, share, services=services)


async def _boost(event: Event, share: contract.ShareCreated, *, services: Services) -> None:
    """A local user shared a clip to the fediverse: an ``Announce`` (a boost) of it to the
    servers of their followers, and to the clip's own server when it is another's (which
    counts it, as we count theirs)."""
    users = await accounts.get_many(db=services.db, user_ids=[share.user_id])
    clip = (await clips.get_many(db=services.db, clip_ids=[share.clip_id])).get(share.clip_id)
    sharer = users.get(share.user_id)
    if sharer is None or sharer.domain is not None or clip is None or not publish.federates(clip):
        return
    uris = publish.uris(services=services)
    origin = await objects.uri_of("clip", clip.id, services=services)
    owner = origin.actor_id if origin is not None else clip.owner_id
    owner_actor = (await remote.actors([owner], services=services)).get(owner) if origin is not None else None
    owner_uri = owner_actor.uri if owner_actor is not None else uris.actor(owner)
    actor = uris.actor(sharer.id)
    activity = documents.activity(uris, kind="Announce", event_id=event.id, actor=actor,
                                  object=origin.uri if origin is not None else uris.clip(clip.id),
                                  to=[documents.AS_PUBLIC], cc=[f"{actor}/followers", owner_uri])
    await deliveries.to_followers(sharer.id, activity, services=services)
    if owner_actor is not None:
        await deliveries.enqueue({owner_actor.shared_inbox or owner_actor.inbox: owner_actor.domain},
                                 activity=activity, signer_id=sharer.id, services=services)


async def _clip(event: Event, *, services: Services) -> None:
    clip_id = int(event.key)
    clip = (await clips.get_many(db=services.db, clip_ids=[clip_id])).get(clip_id)
    if clip is None:
        return
    owner = (await accounts.get_many(db=services.db, user_ids=[clip.owner_id])).get(clip.owner_id)
    if owner is None or owner.domain is not None:
        return
    uris = publish.uris(services=services)
    actor = uris.actor(owner.id)
    if publish.federates(clip) and event.type != contract.CLIP_DELETED.name:
        video = await publish.video(clip, services=services)
        video.pop("@context", None)
        kind = "Create" if event.type == contract.CLIP_READY.name else "Update"
        activity = documents.activity(uris, kind=kind, event_id=event.id, actor=actor, object=video,
                                      to=video["to"], cc=video["cc"])
    elif clip.published_at is not None:  # it was out there once: take it back
        activity = documents.activity(uris, kind="Delete", event_id=event.id, actor=actor,
                                      object=documents.tombstone(uris.clip(clip.id), former_type="Video",
                                                                 deleted=utcnow()),
                                      to=[documents.AS_PUBLIC], cc=[f"{actor}/followers"])
    else:
        return
    await deliveries.to_followers(owner.id, activity, services=services)


async def _follow(event: Event, change: contract.FollowChanged, *, added: bool, services: Services) -> None:
    """A local user's Follow or Undo of a remote account; a Reject of a remote follower's Follow
    when our user ended it. What the other side ended (its ``Reject`` or ``Block``) is not
    answered: it knows."""
    users = await accounts.get_many(db=services.db, user_ids=[change.user_id, change.followee_id])
    follower, followee = users.get(change.user_id), users.get(change.followee_id)
    if follower is None or followee is None:
        return
    by_followee = change.ended_by is not None and change.ended_by == followee.id
    if not added and by_followee and follower.domain is not None and followee.domain is None:
        await _reject(event, follower.id, followee.id, services=services)
    if by_followee or follower.domain is not None or followee.domain is None:
        return
    target = (await remote.actors([followee.id], services=services)).get(followee.id)
    if target is None:
        return
    uris = publish.uris(services=services)
    follow = {"id": uris.follow(follower.id, followee.id), "type": "Follow", "actor": uris.actor(follower.id),
              "object": target.uri}
    if added:
        # A new ID for every follow: a follow, an unfollow and a follow again are three activities.
        await deliveries.enqueue({target.inbox: target.domain}, signer_id=follower.id, services=services,
                                 activity={"@context": documents.CONTEXT, **follow, "id": uris.activity(event.id)})
    else:
        await deliveries.enqueue({target.inbox: target.domain}, signer_id=follower.id, services=services,
                                 activity=documents.activity(uris, kind="Undo", event_id=event.id,
                                                             actor=uris.actor(follower.id), object=follow))


async def _reject(event: Event, follower_id: int, followee_id: int, *, services: Services) -> None:
    """Tell a remote follower's server that our user ended its follow (Mastodon's answer to a
    block, of the account or of its server): a ``Reject`` of the ``Follow`` it sent, named by
    its ID when we kept it, and embedded whole, which is how servers find it either way."""
    target = (await remote.actors([follower_id], services=services)).get(follower_id)
    if target is None:
        return
    uris = publish.uris(services=services)
    follow: dict[str, object] = {"type": "Follow", "actor": target.uri, "object": uris.actor(followee_id)}
    if (sent := await objects.follow_uri(follower_id, followee_id, services=services)) is not None:
        follow = {"id": sent, **follow}
    await deliveries.send_to(follower_id, kind="Reject", signer_id=followee_id, object=follow, services=services,
                             activity_id=uris.activity(event.id))


async def _on_remote_clip(clip_id: int, user_id: int, *, services: Services) -> tuple[str, int] | None:
    """(the clip's URI, its creator) when a local user acted on another server's clip."""
    if not await _is_local_account(user_id, services=services):  # most likes here are remote ones
        return None
    found = await objects.uri_of("clip", clip_id, services=services)
    return (found.uri, found.actor_id) if found is not None else None


# Whether an account is one of ours never changes (a remote account is stored with its server,
# a local one never gets one), so each process keeps the answer: a burst of remote likes on
# our clips costs one read per liker, not one per like.
_LOCAL_ACCOUNTS: dict[tuple[int, int], bool] = {}  # (id of the Database, user) -> local
_LOCAL_ACCOUNTS_MAX = 100_000


async def _is_local_account(user_id: int, *, services: Services) -> bool:
    cache_key = (id(services.db), user_id)
    known = _LOCAL_ACCOUNTS.get(cache_key)
    if known is not None:
        return known
    actor = (await accounts.get_many(db=services.db, user_ids=[user_id])).get(user_id)
    if actor is None:
        return False
    if len(_LOCAL_ACCOUNTS) >= _LOCAL_ACCOUNTS_MAX:
        _LOCAL_ACCOUNTS.clear()
    _LOCAL_ACCOUNTS[cache_key] = local = actor.domain is None
    return local


async def _remote_like(event: Event, like: contract.ClipEngagement, *, added: bool, services: Services) -> None:
    target = await _on_remote_clip(like.clip_id, like.user_id, services=services)
    if target is None:
        return
    uris = publish.uris(services=services)
    actor = uris.actor(like.user_id)
    liked = {"id": f"{actor}#likes/{like.clip_id}", "type": "Like", "actor": actor, "object": target[0]}
    if added:
        await deliveries.send_to(target[1], kind="Like", signer_id=like.user_id, object=target[0],
                                 services=services, activity_id=uris.activity(event.id))
    else:
        await deliveries.send_to(target[1], kind="Undo", signer_id=like.user_id, object=liked,
                                 services=services, activity_id=uris.activity(event.id))


async def _remote_comment(event: Event, *, services: Services) -> None:
    uris = publish.uris(services=services)
    if event.type == contract.COMMENT_DELETED.name:
        deleted = contract.COMMENT_DELETED.parse(event)
        target = await _on_remote_clip(deleted.clip_id, deleted.author_id, services=services)
        if target is not None and deleted.user_id == deleted.author_id:  # a moderator's removal stays here
            await deliveries.send_to(target[1], kind="Delete", signer_id=deleted.author_id, services=services,
                                     activity_id=uris.activity(event.id),
                                     object=documents.tombstone(uris.comment(deleted.comment_id),
                                                                former_type="Note", deleted=utcnow()))
        return
    change = contract.COMMENT_CREATED.parse(event)
    author = change.user_id
    target = await _on_remote_clip(change.clip_id, author, services=services)
    if target is None:
        return
    try:
        comment = await comment_reads.get_visible(services=services, viewer_id=None, clip_id=change.clip_id,
                                                  comment_id=change.comment_id)
    except NotFound:  # held for review, or already gone: nothing leaves
        return
    parent = await objects.uri_of("comment", comment.parent_id, services=services) if comment.parent_id else None
    note = documents.note(uris, comment_id=comment.id, author_uri=uris.actor(author), clip_id=comment.clip_id,
                          parent_uri=parent.uri if parent else target[0], body=comment.body,
                          clip_owner_uri=None, published=comment.created_at)
    note.pop("@context", None)
    await deliveries.send_to(target[1], kind="Create", signer_id=author, object=note, services=services,
                             activity_id=uris.activity(event.id))


async def _account_deleted(event: Event, *, services: Services) -> None:
    """Tell other servers a local account is gone. Its follows are being removed at the same
    time (social cleanup), so the audience is every server we ever delivered to, one shared
    inbox each, as Mastodon does; its key stays to sign this, and its actor answers 410."""
    user_id = int(event.key)
    user = (await accounts.get_many(db=services.db, user_ids=[user_id])).get(user_id)
    if user is None or user.domain is not None:
        return
    uris = publish.uris(services=services)
    actor = uris.actor(user_id)
    activity = documents.activity(uris, kind="Delete", event_id=event.id, actor=actor, object=actor,
                                  to=[documents.AS_PUBLIC])
    await deliveries.enqueue(await deliveries.known_inboxes(services=services), activity=activity,
                             signer_id=user_id, services=services)


async def send_profile(user_id: int, *, event_id: int, services: Services) -> int:
    """``Update`` of a local account's actor (a new name, bio, avatar or key) to every server
    where it has followers; the number of deliveries queued."""
    try:
        user = await publish.local_user(user_id, services=services)
    except NotFound:
        return 0
    uris = publish.uris(services=services)
    person = await publish.person(user, services=services)
    person.pop("@context", None)
    return await deliveries.to_followers(user_id, documents.activity(
        uris, kind="Update", event_id=event_id, actor=uris.actor(user_id), object=person,
        to=[documents.AS_PUBLIC], cc=[f"{uris.actor(user_id)}/followers"]), services=services)
