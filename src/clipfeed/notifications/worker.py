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


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


class NotificationFanout(Processor):
    group: ClassVar[str] = "notifications-fanout"
    topics: ClassVar[tuple[str, ...]] = ("social", "clips", "users")
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
            except ValueError:
                log.warning("notifications.undecodable_event", topic=record.topic, offset=record.offset)
                continue
            for delivery in await self._plan(event):
                delivery.sort_id = event.id  # the inbox orders by when things happened
                planned.append(delivery)
        await deliver(self.services, planned)

    async def _plan(self, event: Event) -> list[Delivery]:
        p = event.payload
        if event.type == "user.deleted":
            await remove_inbox(self.services, int(event.key))
        elif event.type == "clip.ready":
            clip_id, owner_id = _int(p.get("clip_id")), _int(p.get("owner_id"))
            if clip_id is not None and owner_id is not None:
                if p.get("visibility") == "public":
                    await fan_out_new_clip(self.services, owner_id=owner_id, clip_id=clip_id, sort_id=event.id,
                                           posted_at=event.occurred_at)
                return [Delivery(owner_id, K.clip_ready.value, f"clip_ready:{clip_id}", None, clip_id=clip_id)]
        elif event.type in ("clip.rejected", "clip.failed"):
            return await self._clip_outcome(event)
        elif event.type == "follow.added":
            return [Delivery(_int(p.get("followee_id")) or 0, K.follow.value, f"follow:{p.get('user_id')}",
                             _int(p.get("user_id")))]
        elif event.type == "like.added":
            window = int(event.occurred_at.timestamp() // self.services.settings.notifications_like_window_s)
            clip_id = _int(p.get("clip_id"))
            return [Delivery(_int(p.get("creator_id")) or 0, K.like.value, f"like:{clip_id}:{window}",
                             _int(p.get("user_id")), clip_id=clip_id, aggregate=True)]
        elif event.type == "comment.created":
            return comment_deliveries(p)
        elif event.type == "share.created" and p.get("to_user_id"):
            return [Delivery(_int(p.get("to_user_id")) or 0, K.share.value, f"share:{p.get('share_id')}",
                             _int(p.get("user_id")), clip_id=_int(p.get("clip_id")))]
        return []

    async def _clip_outcome(self, event: Event) -> list[Delivery]:
        p = event.payload
        clip_id, owner_id = _int(p.get("clip_id")), _int(p.get("owner_id"))
        if clip_id is None or owner_id is None:
            return []
        kind = K.clip_rejected if event.type == "clip.rejected" else K.clip_failed
        found = (await clips.get_many(db=self.services.db, clip_ids=[clip_id])).get(clip_id)
        reason = (found.status_reason or "") if found is not None else ""
        return [Delivery(owner_id, kind.value, f"{kind.value}:{clip_id}", None, clip_id=clip_id,
                         data={"reason": reason[:300]} if reason else {})]


async def deliver(services: Services, planned: list[Delivery]) -> list[tuple[Notification, bool]]:
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
    written = await inbox.deliver(services, wanted)
    await inbox.announce(services, written)
    return written


def comment_deliveries(p: dict[str, object]) -> list[Delivery]:
    """One notification per person for a comment: a reply beats a mention beats "commented"."""
    author, clip_id, comment_id = _int(p.get("user_id")), _int(p.get("clip_id")), _int(p.get("comment_id"))
    chosen: dict[int, NotificationKind] = {}
    reply_to = _int(p.get("reply_to_user_id"))
    if reply_to:
        chosen[reply_to] = K.reply
    mentions = p.get("mention_ids")
    for mentioned in mentions if isinstance(mentions, list) else []:
        uid = _int(mentioned)
        if uid:
            chosen.setdefault(uid, K.mention)
    creator = _int(p.get("creator_id"))
    if creator:
        chosen.setdefault(creator, K.comment)
    return [Delivery(uid, kind.value, f"{kind.value}:{comment_id}", author, clip_id=clip_id, comment_id=comment_id)
            for uid, kind in chosen.items() if uid != author]


async def fan_out_new_clip(services: Services, *, owner_id: int, clip_id: int, sort_id: int | None = None,
                           posted_at: datetime | None = None) -> int:
    """Hybrid fan-out of a public clip: rows for every follower up to the threshold, one
    announcement above it. Returns the inbox rows written."""
    followers = (await social.follow_counts(db=services.db, user_ids=[owner_id]))[owner_id][0]
    if followers > services.settings.notifications_fanout_threshold:
        await service.announce_clip(services=services, creator_id=owner_id, clip_id=clip_id, posted_at=posted_at)
        return 0
    return await fan_out_on_write(services, owner_id=owner_id, clip_id=clip_id, sort_id=sort_id, posted_at=posted_at)


async def fan_out_on_write(services: Services, *, owner_id: int, clip_id: int, sort_id: int | None = None,
                           posted_at: datetime | None = None) -> int:
    """One inbox row per follower who followed before the clip was posted."""
    written = 0
    sort_id = sort_id or services.ids.next_id()
    async for batch in social.iter_follower_ids(db=services.db, user_id=owner_id, batch=1000, since=posted_at):
        muted = await inbox.muted(services=services, user_ids=batch, kind=K.new_clip.value)
        rows = await inbox.deliver_bulk(services, recipients=[r for r in batch if r not in muted],
                                        kind=K.new_clip.value, group_key=f"new_clip:{clip_id}", actor_id=owner_id,
                                        clip_id=clip_id, sort_id=sort_id)
        await inbox.announce(services, [(row, True) for row in rows])
        written += len(rows)
    return written


async def remove_inbox(services: Services, user_id: int) -> None:
    """A deleted account's inbox goes (idempotent)."""
    async with services.db.shard_session(user_id) as session:
        await session.execute(sa.delete(NotificationActor).where(NotificationActor.recipient_id == user_id))
        await session.execute(sa.delete(Notification).where(Notification.recipient_id == user_id))
        await session.execute(sa.delete(PullMark).where(PullMark.user_id == user_id))
    await service.update_preferences(services=services, user_id=user_id, kinds=dict.fromkeys(NotificationKind, True))
