"""Writing inbox rows (one shard transaction per recipient, or per shard for a bulk fan-out)
and announcing them live.

Every write is idempotent through the unique ``(recipient_id, group_key)``: a redelivered
event finds its row and changes nothing; an aggregated like adds its actor once
(``notification_actors``). After the commit, each written row is appended to the topic
``notifications`` (``notification.created`` or, for a grown aggregate, ``notification.updated``;
key: recipient ID) for the API processes' SSE streams. That append is a live signal only: a
process killed between commit and append loses the push, not the notification, which the
client reads from the inbox.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.core import contract
from clipfeed.infra.db import insert_for, insert_ignore, utcnow
from clipfeed.infra.log import OutgoingRecord
from clipfeed.notifications import render
from clipfeed.notifications.models import Notification, NotificationActor, NotificationMute

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

SHOWN_ACTORS = 3


@dataclass
class Delivery:
    recipient_id: int
    kind: str
    group_key: str
    actor_id: int | None
    clip_id: int | None = None
    comment_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    aggregate: bool = False  # join the recipient's row with the same group_key
    sort_id: int | None = None  # default: now


async def muted(*, services: Services, user_ids: list[int], kind: str) -> set[int]:
    """Which of ``user_ids`` turned ``kind`` off."""
    if not user_ids:
        return set()
    async with services.db.session() as session:
        return set((await session.scalars(sa.select(NotificationMute.user_id).where(
            NotificationMute.kind == kind, NotificationMute.user_id.in_(set(user_ids))))).all())


async def deliver(deliveries: list[Delivery], *, services: Services) -> list[tuple[Notification, bool]]:
    """Write a batch of notifications: one transaction per shard database, deliveries to the
    same recipient and group merged into one row. Returns (row, created) for each row written
    or grown; what was there already (a redelivered event) is left out."""
    groups: dict[tuple[int, str], list[Delivery]] = defaultdict(list)
    for d in deliveries:
        groups[(d.recipient_id, d.group_key)].append(d)
    by_recipient: dict[int, list[list[Delivery]]] = defaultdict(list)
    for (recipient, _key), members in groups.items():
        by_recipient[recipient].append(members)

    written: dict[int, list[tuple[Notification, bool] | None]] = {}

    async def write(session: AsyncSession, recipients: list[int]) -> None:
        found = {recipient: [await _write(session, members, services=services) for members in by_recipient[recipient]]
                 for recipient in recipients}
        # Recorded once this shard's statements all ran (each insert is flushed at once, so a
        # conflict raises here, not at commit): a retry redoes only the shard that conflicted.
        written.update(found)

    for attempt in range(2):
        try:
            await services.db.each_shard([r for r in by_recipient if r not in written], write)
            break
        except IntegrityError:  # a concurrent writer created a group's row first: that shard again
            if attempt:
                raise
    return [item for recipient in by_recipient for item in written[recipient] if item is not None]


async def _write(session: AsyncSession, members: list[Delivery],
                 *, services: Services) -> tuple[Notification, bool] | None:
    first, now = members[0], utcnow()
    sort_id = max(d.sort_id or 0 for d in members) or services.ids.next_id()
    actors = list(dict.fromkeys(d.actor_id for d in members if d.actor_id))  # oldest first
    row = None
    if first.aggregate:
        row = await session.scalar(sa.select(Notification).where(
            Notification.recipient_id == first.recipient_id,
            Notification.group_key == first.group_key).with_for_update())
    if row is None:
        row = Notification(id=services.ids.next_id(), recipient_id=first.recipient_id, kind=first.kind,
                           group_key=first.group_key, sort_id=sort_id, clip_id=first.clip_id,
                           comment_id=first.comment_id, actor_ids=[str(a) for a in reversed(actors)][:SHOWN_ACTORS],
                           actor_count=len(actors), data=first.data, created_at=now, updated_at=now)
        if first.aggregate:
            session.add(row)
            await session.flush()
            await _add_actors(session, row, actors)
        elif not await insert_ignore(session, Notification,
                                     {c.key: getattr(row, c.key) for c in Notification.__table__.columns}):
            return None
        return row, True
    fresh = await _add_actors(session, row, actors)
    if not fresh:
        return None
    shown = [str(a) for a in reversed(fresh)]
    row.actor_ids = [*shown, *[a for a in row.actor_ids if a not in shown]][:SHOWN_ACTORS]
    row.actor_count += len(fresh)
    row.sort_id, row.updated_at, row.read_at = max(row.sort_id, sort_id), now, None
    return row, False


async def _add_actors(session: AsyncSession, row: Notification, actors: list[int]) -> list[int]:
    """Record actors of an aggregated row; returns those not there before, in order."""
    if not actors:
        return []
    stmt = insert_for(session, NotificationActor).on_conflict_do_nothing().returning(NotificationActor.actor_id)
    added = set((await session.scalars(stmt, [{"notification_id": row.id, "actor_id": a,
                                                "recipient_id": row.recipient_id} for a in actors])).all())
    return [a for a in actors if a in added]


async def deliver_bulk(*, services: Services, recipients: list[int], kind: str, group_key: str,
                       actor_id: int | None, clip_id: int | None, sort_id: int | None = None) -> list[Notification]:
    """The same notification to many recipients (fan-out on write): one multi-row insert per
    shard database; rows that exist already are skipped. Returns the rows written."""
    now = utcnow()
    sort_id = sort_id or services.ids.next_id()
    common = {"kind": kind, "group_key": group_key, "sort_id": sort_id, "clip_id": clip_id, "comment_id": None,
              "actor_ids": [str(actor_id)] if actor_id else [], "actor_count": 1 if actor_id else 0,
              "data": {}, "created_at": now, "updated_at": now, "read_at": None}

    async def write(session: AsyncSession, members: list[int]) -> list[Notification]:
        ids = services.ids.next_ids(len(members))
        rows: list[dict[str, Any]] = [{**common, "id": nid, "recipient_id": rid}
                                      for nid, rid in zip(ids, members, strict=True)]
        stmt = insert_for(session, Notification).on_conflict_do_nothing().returning(Notification.id)
        created = set((await session.scalars(stmt, rows)).all())
        return [Notification(**r) for r in rows if r["id"] in created]

    return [row for batch in await services.db.each_shard(dict.fromkeys(recipients), write) for row in batch]


async def announce(rows: list[tuple[Notification, bool]], *, services: Services) -> None:
    """Append ``notification.created``/``.updated`` for rows just committed (live delivery)."""
    if not rows:
        return
    views = await render.views(services=services, rows=[r for r, _ in rows])
    by_id = {v.id: v for v in views}
    records = []
    for row, created in rows:
        view = by_id.get(str(row.id))
        if view is None:
            continue
        event_type = contract.NOTIFICATION_CREATED if created else contract.NOTIFICATION_UPDATED
        event = event_type.event(id=services.ids.next_id(), key=row.recipient_id, region=services.settings.region,
                                 payload=contract.NotificationChanged(**view.model_dump(mode="json")))
        records.append(OutgoingRecord(value=event.encode(), key=event.key.encode()))
    for start in range(0, len(records), 1000):
        await services.log.append_batch(contract.Topic.NOTIFICATIONS, records[start:start + 1000])
