"""The viewer's own dismissals, newest first, so an app can show them and take them back: the
creators they hid and the clips they are not interested in, each with the time it ends.

Only live rows are listed (an expired one no longer filters anything, and the lifecycle role
deletes it, ``clipfeed.recs.dismissals_prune``). Pages are keyset pages over the viewer's own
rows (``created_at``, then the subject's ID): a dismissal renewed while the viewer pages moves to
the front and is not listed twice on later pages. A creator since deleted, suspended or on
either side of a block, or a clip the viewer may no longer see, is left out of its page, so a
page may hold fewer than ``limit`` items while a next cursor remains.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips
from clipfeed.core.pagination import cursor_int, decode_cursor, keyset_page
from clipfeed.recs.dismissals_models import HiddenCreator, HiddenCreatorPage, NotInterestedClip, NotInterestedPage
from clipfeed.recs.models import Dismissal
from clipfeed.social import access

if TYPE_CHECKING:
    from clipfeed.accounts.models import User
    from clipfeed.runtime.services import Services

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


async def hidden_creators(*, services: Services, user: User, cursor: str | None, limit: int) -> HiddenCreatorPage:
    """The creators ``user`` hid whose days are not over, most recently hidden first."""
    rows, next_cursor = await _live_rows(user.id, "creator", cursor=cursor, limit=limit, services=services)
    people = await access.active_users(db=services.db, user_ids=[subject for subject, _, _ in rows])
    blocked = await access.blocked_user_ids(db=services.db, user_id=user.id) if people else set()
    items = [HiddenCreator(user=accounts.public_view(people[subject], settings=services.settings),
                           since=since, until=until)
             for subject, since, until in rows if subject in people and subject not in blocked]
    return HiddenCreatorPage(items=items, next_cursor=next_cursor)


async def not_interested_clips(*, services: Services, user: User, cursor: str | None,
                               limit: int) -> NotInterestedPage:
    """The clips ``user`` is not interested in whose days are not over, most recent first."""
    rows, next_cursor = await _live_rows(user.id, "clip", cursor=cursor, limit=limit, services=services)
    found = await access.visible_clips(db=services.db, clip_ids=[subject for subject, _, _ in rows],
                                       viewer_id=user.id)
    owners = await accounts.get_many(db=services.db, user_ids=[c.owner_id for c in found.values()])
    items = []
    for subject, since, until in rows:
        clip = found.get(subject)
        if clip is not None:
            owner = owners.get(clip.owner_id)
            items.append(NotInterestedClip(clip=clips.public_view(clip, owner_handle=owner.handle if owner else None),
                                           since=since, until=until))
    return NotInterestedPage(items=items, next_cursor=next_cursor)


async def _live_rows(user_id: int, kind: str, *, cursor: str | None, limit: int,
                     services: Services) -> tuple[list[Any], str | None]:
    """One keyset page of (subject ID, created at, expires at), newest first."""
    position = decode_cursor(cursor)
    query = sa.select(Dismissal.subject_id, Dismissal.created_at, Dismissal.expires_at).where(
        Dismissal.user_id == user_id, Dismissal.kind == kind, Dismissal.expires_at > datetime.now(UTC))
    if position:
        at = _EPOCH + cursor_int(position, "at") * _MICROSECOND
        before = cursor_int(position, "before")
        query = query.where(sa.or_(Dismissal.created_at < at,
                                   sa.and_(Dismissal.created_at == at, Dismissal.subject_id < before)))
    async with services.db.shard_session(user_id) as session:
        rows = (await session.execute(query.order_by(Dismissal.created_at.desc(), Dismissal.subject_id.desc())
                                      .limit(limit + 1))).all()
    return keyset_page(rows, limit, lambda r: {"at": str((r[1] - _EPOCH) // _MICROSECOND), "before": str(r[0])})
