"""The federation worker's inbox side: what each received activity does here.

Remote accounts act through the same social functions as local ones (``follows.follow``,
``engagement.set_like``, ``comments.create`` …), so blocks, comment settings, visibility,
counts and notifications hold for them unchanged. Each activity's effects are idempotent (a
follow that exists, a like already there, a Note already stored change nothing), so a worker
killed half-way re-applies the redelivered activity safely.

The worker takes the queue in batches. Likes of our clips and Follows of our users, what most
of the traffic is, are applied a run at a time (``apply_run``): one read each for the clips,
the accounts and the blocks of the whole run, one transaction per shard database for its likes
and one for its follows, with the same rules and events as one at a time. Any other activity
ends the run and is applied alone, in order, so what one account sent keeps its order (a Like
or Follow is never moved past the Undo, Block or Delete that came after it); within a run,
likes and follows commute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import structlog

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips import service as clips
from clipfeed.core import contract
from clipfeed.core.errors import ClipfeedError
from clipfeed.core.events import Event
from clipfeed.core.text import scrub
from clipfeed.federation import admin, deliveries, documents, flags, publish, remote, videos
from clipfeed.federation.documents import content_of, plain_text
from clipfeed.federation.models import RemoteObject
from clipfeed.federation.objects import remember, stored, uri_digest
from clipfeed.infra.db import insert_for, utcnow
from clipfeed.infra.log import Record
from clipfeed.runtime.consumers import Processor
from clipfeed.social import access, blocks, comments, engagement, events, follows, graph, shares
from clipfeed.social.models import Like
from clipfeed.social.schemas import MAX_COMMENT, CommentCreate, ShareChannel, ShareCreate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)


@dataclass(frozen=True, eq=False)
class Received:
    """One queued activity and the account that sent it (each one itself: compared by identity)."""

    activity: dict[str, Any]
    sender: User


class InboxWorker(Processor):
    group: ClassVar[str] = contract.FEDERATION_IN
    topics: ClassVar[tuple[str, ...]] = (contract.Topic.FEDERATION_INBOX,)
    batch_size: ClassVar[int] = 200

    async def handle(self, records: list[Record]) -> None:
        """Apply a batch in order: runs of Likes and Follows together, the rest one by one. A
        failure hands the batch back to be retried one record at a time (``handle_one``)."""
        queued = []
        for record in records:
            try:
                queued.append(contract.ACTIVITY_RECEIVED.parse(Event.decode(record.value)))
            except ValueError:
                continue
        senders = await accounts.get_many(db=self.services.db, user_ids=list({item.sender_id for item in queued}))
        run: list[Received] = []
        for item in queued:
            sender = senders.get(item.sender_id)
            if sender is None or sender.suspended_at is not None or sender.deleted_at is not None:
                continue  # its server was suspended after the activity was queued
            if _in_runs(item.activity, services=self.services):
                run.append(Received(item.activity, sender))
                continue
            await apply_run(run, services=self.services)
            run = []
            await _apply_alone(item.activity, sender=sender, services=self.services)
        await apply_run(run, services=self.services)


async def _apply_alone(activity: dict[str, Any], *, sender: User, services: Services) -> None:
    try:
        await apply(activity, sender=sender, services=services)
    except ClipfeedError as exc:
        # Refused by the rules (a block, comments off, a clip gone): the activity is done.
        log.info("federation.activity_refused", type=activity.get("type"), reason=exc.detail)
    except ValueError as exc:  # a shape our models refuse: retrying cannot change it
        log.info("federation.activity_refused", type=activity.get("type"), reason=str(exc)[:300])


def _in_runs(activity: dict[str, Any], *, services: Services) -> bool:
    """A Like of one of our clips or a Follow of one of our users: applied with its run."""
    kind, target = activity.get("type"), activity.get("object")
    if kind == "Like":
        return _local_clip(target, services=services) is not None
    return kind == "Follow" and _local_user_id(target, services=services) is not None


async def apply_run(run: Sequence[Received], *, services: Services) -> None:
    """Likes of our clips and Follows of our users (``_in_runs``), applied together with what
    ``apply`` does for each: the same checks (the clip visible to the sender, no block either
    way, the followee a local account in good standing), the same rows and events (a like
    counted and notified through ``like.added``, a follow through ``follow.added`` with both
    counters), the object remembered for a later Undo, and each Follow answered (``Accept``,
    or ``Reject`` when blocked). Idempotent like ``apply``: a redelivered run changes nothing
    but answers its Follows again."""
    likes = [item for item in run if item.activity.get("type") == "Like"]
    follows_ = [item for item in run if item.activity.get("type") == "Follow"]
    if likes:
        await _like_run(likes, services=services)
    if follows_:
        await _follow_run(follows_, services=services)


async def _like_run(likes: list[Received], *, services: Services) -> None:
    wanted = {item: clip_id for item in likes if (clip_id := _local_clip(item.activity.get("object"),
                                                                          services=services)) is not None}
    found = await clips.get_many(db=services.db, clip_ids=list(set(wanted.values())))
    creators = await accounts.get_many(db=services.db, user_ids=list({clip.owner_id for clip in found.values()}))
    blocked = await access.blocked_pairs(db=services.db, pairs=[
        (item.sender.id, found[clip_id].owner_id) for item, clip_id in wanted.items() if clip_id in found])
    liked: dict[tuple[int, int], Received] = {}  # (sender, clip) -> the first Like of it
    for item, clip_id in wanted.items():
        clip = found.get(clip_id)
        if clip is None or not access.can_see(
                viewer_id=item.sender.id, clip=clip, creator=creators.get(clip.owner_id),
                hidden={clip.owner_id} if (item.sender.id, clip.owner_id) in blocked else set()):
            log.info("federation.activity_refused", type="Like", reason=f"no clip {clip_id}")
            continue
        liked.setdefault((item.sender.id, clip_id), item)
    if not liked:
        return

    async def write(session: AsyncSession, senders: list[int]) -> None:
        mine = set(senders)
        here = {pair: n for n, pair in enumerate(pair for pair in liked if pair[0] in mine)}
        now = utcnow()
        insert = insert_for(session, Like).values([
            {"user_id": user_id, "clip_id": clip_id, "id": services.ids.next_id(), "created_at": now}
            for user_id, clip_id in here]).on_conflict_do_nothing()
        made = (await session.execute(insert.returning(Like.user_id, Like.clip_id))).all()
        for user_id, clip_id in sorted(made, key=lambda row: here[row[0], row[1]]):  # in the order sent
            events.record(session, contract.LIKE_ADDED, key=clip_id, actor_id=user_id, shard_key=user_id,
                          payload=contract.ClipEngagement(user_id=user_id, clip_id=clip_id,
                                                          creator_id=found[clip_id].owner_id),
                          services=services)

    # The likes' events are counted and notified downstream, as a local like's are. (The
    # liker's own For You re-ranking that ``engagement.set_like`` also does is for local
    # viewers: a remote account has no feed here.)
    await services.db.each_shard(list({user_id for user_id, _ in liked}), write)
    async with services.db.session() as session:
        await _remember(session, [(item, "like", clip_id, clip_id) for (_, clip_id), item in liked.items()])


async def _follow_run(wanted: list[Received], *, services: Services) -> None:
    followee_of = {item: _local_user_id(item.activity.get("object"), services=services) for item in wanted}
    users = await accounts.get_many(db=services.db, user_ids=[u for u in set(followee_of.values()) if u is not None])
    answers: list[tuple[Received, User]] = []
    async with services.db.session() as session:
        pairs: dict[tuple[int, int], str] = {}
        for item, followee_id in followee_of.items():
            followee = users.get(followee_id) if followee_id is not None else None
            if followee is None or followee.domain is not None or followee.deleted_at or followee.suspended_at:
                log.info("federation.activity_refused", type="Follow", reason=f"no actor {followee_id}")
                continue
            pairs.setdefault((item.sender.id, followee.id), "")
            answers.append((item, followee))
        # Every counter row of the run locked first, in ID order (as ``follows.follow`` locks a
        # pair's): a block of one of these pairs waits for this transaction, or it for the block.
        await graph.bump_counts(session, {user_id: (0, 0) for pair in pairs for user_id in pair})
        for follower_id, followee_id in pairs:
            if await graph.blocked_between(session, follower_id, followee_id):
                pairs[follower_id, followee_id] = "Reject"
            else:
                await graph.add_follow(session, follower_id, followee_id, services=services)
                pairs[follower_id, followee_id] = "Accept"
        # An Undo may name the Follow by its ID alone (bovine, Pleroma do).
        await _remember(session, [(item, "follow", followee.id, 0) for item, followee in answers
                                  if pairs[item.sender.id, followee.id] == "Accept"])
    # Answered once the follows are committed; killed before every answer is queued, the run is
    # redelivered, changes nothing, and answers each Follow again (as one at a time does).
    actors = await remote.actors(list({item.sender.id for item, _ in answers}), services=services)
    uris = publish.uris(services=services)
    queued: list[tuple[dict[str, str], dict[str, Any], int]] = []
    for item, followee in answers:
        actor = actors.get(item.sender.id)
        if actor is None:
            continue
        answer = documents.activity(uris, kind=pairs[item.sender.id, followee.id], event_id=services.ids.next_id(),
                                    actor=uris.actor(followee.id), object=item.activity, to=[actor.uri])
        queued.append(({actor.inbox: actor.domain}, answer, followee.id))
    await deliveries.enqueue_many(queued, services=services)


async def _remember(session: AsyncSession, rows: list[tuple[Received, str, int, int]]) -> None:
    """``objects.remember`` for many activities, in ``session``."""
    values = {uri_digest(uri): {"uri_digest": uri_digest(uri), "uri": uri, "kind": kind, "local_id": local_id,
                                "clip_id": clip_id, "actor_id": item.sender.id}
              for item, kind, local_id, clip_id in rows if isinstance(uri := item.activity.get("id"), str)}
    if values:
        await session.execute(insert_for(session, RemoteObject).values(list(values.values())).on_conflict_do_nothing())


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
                                   followee=sender, refused=True)


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
    if clip_id is None and isinstance(parent, str):  # a reply to a remote clip or reply stored here
        found = await stored(parent, services=services)
        if found is not None and found.kind == "comment":
            clip_id, parent_id = found.clip_id, found.local_id
        elif found is not None and found.kind == "clip":
            clip_id = found.local_id
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
