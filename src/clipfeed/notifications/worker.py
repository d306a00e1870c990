"""The notification fan-out worker (role ``stream``): events in, inbox rows out.

Consumes ``social`` (follows, likes, comments, shares), ``clips`` (ready, rejected, failed)
and ``users`` (deleted: the inbox goes) as the shared group ``notifications-fanout``.
Idempotent: each notification's ``group_key`` derives from its event (``comment:<id>``,
``like:<clip>:<window>`` plus the actor, ``new_clip:<clip>`` ...), so a redelivered event
finds its rows and writes nothing twice. Recipients who muted the kind, the actor themself,
and anyone blocked either way with the actor get nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
import structlog

from clipfeed.clips import service as clips
from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.infra.log import Record
from clipfeed.notifications import inbox, service
from clipfeed.notifications.inbox import Delivery
from clipfeed.notifications.models import Notification, NotificationActor, NotificationKind, PullMark
from clipfeed.runtime.consumers import Processor
from clipfeed.social import service as social

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
K = NotificationKind


class NotificationFanout(Processor):
    group: ClassVar[str] = "notifications-fanout"
    topics: ClassVar[tuple[str, ...]] = (contract.Topic.SOCIAL, contract.Topic.CLIPS, contract.Topic.USERS)
    # A work queue, not partitioned: notifications need no per-key order (the inbox sorts by
    # event ID; aggregate rows are locked and unique), and on JetStream a partitioned group
    # answers about a second later than a shared one, which live delivery cannot afford.
    shared: ClassVar[bool] = True
    batch_size: ClassVar[int] = 200
    ack_wait: ClassVar[float] = 120.0  # a fan-out to 10k followers takes seconds

    async def handle(self, records: list[Record]) -> None:
        """A batch at once: one mute and one block query, one write per shard database, one
        append of the live signals (see ``inbox.deliver``)."""
        planned: list[Delivery] = []
        for record in records:
            try:
                event = Event.decode(record.value)
                deliveries = await self._plan(event)
            except ValueError:
                log.warning("notifications.undecodable_event", topic=record.topic, offset=record.offset)
                continue
            for delivery in deliveries:
                delivery.sort_id = event.id  # the inbox orders by when things happened
                planned.append(delivery)
        await deliver(planned, services=self.services)

    async def _plan(self, event: Event) -> list[Delivery]:
        """What ``event`` notifies; ``ValueError`` for a payload that is not its type's."""
        if event.type == contract.USER_DELETED.name:
            await remove_inbox(int(event.key), services=self.services)
        elif event.type == contract.CLIP_READY.name:
            clip = contract.CLIP_READY.parse(event)
            if clip.visibility == "public":
                await fan_out_new_clip(owner_id=clip.owner_id, clip_id=clip.clip_id, sort_id=event.id,
                                       posted_at=event.occurred_at,
                                       services=self.services)
            return [Delivery(clip.owner_id, K.clip_ready.value, f"clip_ready:{clip.clip_id}", None,
                             clip_id=clip.clip_id)]
        elif event.type in (contract.CLIP_REJECTED.name, contract.CLIP_FAILED.name):
            return await self._clip_outcome(event)
        elif event.type == contract.FOLLOW_ADDED.name:
            follow = contract.FOLLOW_ADDED.parse(event)
            return [Delivery(follow.followee_id, K.follow.value, f"follow:{follow.user_id}", follow.user_id)]
        elif event.type == contract.LIKE_ADDED.name:
            like = contract.LIKE_ADDED.parse(event)
            window = int(event.occurred_at.timestamp() // self.services.settings.notifications_like_window_s)
            return [Delivery(like.creator_id, K.like.value, f"like:{like.clip_id}:{window}", like.user_id,
                             clip_id=like.clip_id, aggregate=True)]
        elif event.type == contract.COMMENT_CREATED.name:
            return comment_deliveries(contract.COMMENT_CREATED.parse(event))
        elif event.type == contract.SHARE_CREATED.name:
            share = contract.SHARE_CREATED.parse(event)
            if share.to_user_id:
                return [Delivery(share.to_user_id, K.share.value, f"share:{share.share_id}", share.user_id,
                                 clip_id=share.clip_id)]
        return []

    async def _clip_outcome(self, event: Event) -> list[Delivery]:
        rejected = event.type == contract.CLIP_REJECTED.name
        outcome = (contract.CLIP_REJECTED if rejected else contract.CLIP_FAILED).parse(event)
        clip_id, owner_id = outcome.clip_id, outcome.owner_id
        kind = K.clip_rejected if rejected else K.clip_failed
        found = (await clips.get_many(db=self.services.db, clip_ids=[clip_id])).get(clip_id)
        reason = (found.status_reason or "") if found is not None else ""
        return [Delivery(owner_id, kind.value, f"{kind.value}:{clip_id}", None, clip_id=clip_id,
                         data={"reason": reason[:300]} if reason else {})]


async def deliver(planned: list[Delivery], *, services: Services) -> list[tuple[Notification, bool]]:
    """Filter, write, and announce live. Left out: the actor themself, muted kinds, anyone
    blocked either way with the actor or the clip's creator, and recipients who cannot see
    the clip (a mention on a clip they may not watch)."""
    wanted = [d for d in planned if d.recipient_id and d.recipient_id != d.actor_id]
    muted: set[tuple[int, str]] = set()
    for kind in {d.kind for d in wanted}:
        users = await inbox.muted(services=services, user_ids=[d.recipient_id for d in wanted if d.kind == kind],
                                  kind=kind)
        muted |= {(u, kind) for u in users}
    found = await clips.get_many(db=services.db, clip_ids=[d.clip_id for d in wanted if d.clip_id is not None])
    owner = {d.clip_id: found[d.clip_id].owner_id for d in wanted if d.clip_id in found}
    blocked = await social.blocked_pairs(db=services.db, pairs=[
        *((d.actor_id, d.recipient_id) for d in wanted if d.actor_id),
        *((owner[d.clip_id], d.recipient_id) for d in wanted if d.clip_id in owner)])

    def allowed(d: Delivery) -> bool:
        if (d.recipient_id, d.kind) in muted or (d.actor_id and (d.actor_id, d.recipient_id) in blocked):
            return False
        if d.clip_id is None:
            return True
        clip = found.get(d.clip_id)
        return (clip is not None and clips.can_view(clip, d.recipient_id)
                and (clip.owner_id, d.recipient_id) not in blocked)

    wanted = [d for d in wanted if allowed(d)]
    written = await inbox.deliver(wanted, services=services)
    await inbox.announce(written, services=services)
    return written


def comment_deliveries(comment: contract.CommentCreated) -> list[Delivery]:
    """One notification per person for a comment: a reply beats a mention beats "commented"."""
    author, clip_id, comment_id = comment.user_id, comment.clip_id, comment.comment_id
    chosen: dict[int, NotificationKind] = {}
    if comment.reply_to_user_id:
        chosen[comment.reply_to_user_id] = K.reply
    for mentioned in comment.mention_ids:
        if mentioned:
            chosen.setdefault(mentioned, K.mention)
    if comment.creator_id:
        chosen.setdefault(comment.creator_id, K.comment)
    return [Delivery(uid, kind.value, f"{kind.value}:{comment_id}", author, clip_id=clip_id, comment_id=comment_id)
            for uid, kind in chosen.items() if uid != author]


async def fan_out_new_clip(*, services: Services, owner_id: int, clip_id: int, sort_id: int | None = None,
                           posted_at: datetime | None = None) -> int:
    """Hybrid fan-out of a public clip: rows for every follower up to the threshold, one
    announcement above it. Returns the inbox rows written."""
    followers = (await social.follow_counts(db=services.db, user_ids=[owner_id]))[owner_id][0]
    if followers > services.settings.notifications_fanout_threshold:
        await service.announce_clip(services=services, creator_id=owner_id, clip_id=clip_id, posted_at=posted_at)
        return 0
    return await fan_out_on_write(owner_id=owner_id, clip_id=clip_id, sort_id=sort_id, posted_at=posted_at,
                                  services=services)


async def fan_out_on_write(*, services: Services, owner_id: int, clip_id: int, sort_id: int | None = None,
                           posted_at: datetime | None = None) -> int:
    """One inbox row per follower who followed before the clip was posted."""
    written = 0
    sort_id = sort_id or services.ids.next_id()
    async for batch in social.iter_follower_ids(db=services.db, user_id=owner_id, batch=1000, since=posted_at):
        muted = await inbox.muted(services=services, user_ids=batch, kind=K.new_clip.value)
        rows = await inbox.deliver_bulk(recipients=[r for r in batch if r not in muted], kind=K.new_clip.value,
                                        group_key=f"new_clip:{clip_id}", actor_id=owner_id, clip_id=clip_id,
                                        sort_id=sort_id, services=services)
        await inbox.announce([(row, True) for row in rows], services=services)
        written += len(rows)
    return written


async def remove_inbox(user_id: int, *, services: Services) -> None:
    """A deleted account's inbox goes (idempotent)."""
    async with services.db.shard_session(user_id) as session:
        await session.execute(sa.delete(NotificationActor).where(NotificationActor.recipient_id == user_id))
        await session.execute(sa.delete(Notification).where(Notification.recipient_id == user_id))
        await session.execute(sa.delete(PullMark).where(PullMark.user_id == user_id))
    await service.update_preferences(services=services, user_id=user_id, kinds=dict.fromkeys(NotificationKind, True))
