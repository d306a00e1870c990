"""Follow and unfollow (idempotent), follower/following lists, counts and relationship flags.

Each write is one transaction on the main database: the follow row, both users' counter rows
and the ``follow.added``/``follow.removed`` event commit together or not at all, so a process
killed half-way leaves nothing to repair and the client simply repeats the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.core.errors import BadRequest, Forbidden, NotFound
from clipfeed.core.pagination import decode_cursor
from clipfeed.infra.db import Database
from clipfeed.social import access, graph
from clipfeed.social.models import Block, Follow, FollowCount
from clipfeed.social.paging import cursor_int, keyset_page
from clipfeed.social.schemas import FollowEntry, FollowPage, FollowState, Relationship

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


async def follow(*, services: Services, follower: User, followee: User) -> FollowState:
    if follower.id == followee.id:
        raise BadRequest("you cannot follow yourself")
    async with services.db.session() as session:
        await graph.lock_pair(session, follower.id, followee.id)
        if await graph.blocked_between(session, follower.id, followee.id):
            raise Forbidden("you cannot follow this account")
        await graph.add_follow(session, follower.id, followee.id, services=services)
    return await state(db=services.db, viewer_id=follower.id, user_id=followee.id)


async def unfollow(*, services: Services, follower: User, followee: User, refused: bool = False) -> FollowState:
    """``refused``: the followee ended the follow (another server's account refused it)."""
    async with services.db.session() as session:
        await graph.remove_follow(session, follower.id, followee.id, services=services,
                                  ended_by=followee.id if refused else None)
    return await state(db=services.db, viewer_id=follower.id, user_id=followee.id)


async def state(*, db: Database, viewer_id: int, user_id: int) -> FollowState:
    async with db.read_session() as session:
        following = await graph.following_among(session, viewer_id, [user_id])
        follows_you = await graph.followers_among(session, viewer_id, [user_id])
        followers, following_count = (await graph.counts_of(session, [user_id]))[user_id]
    return FollowState(user_id=str(user_id), following=bool(following), follows_you=bool(follows_you),
                       followers_count=followers, following_count=following_count)


async def relationship(*, db: Database, viewer_id: int | None, user: User) -> Relationship:
    if viewer_id is None:
        async with db.read_session() as session:
            followers, following = (await graph.counts_of(session, [user.id]))[user.id]
        return Relationship(user_id=str(user.id), following=False, follows_you=False, blocking=False,
                            followers_count=followers, following_count=following)
    base = await state(db=db, viewer_id=viewer_id, user_id=user.id)
    blocking = user.id in await blocked_by(db=db, user_id=viewer_id, among=[user.id])
    return Relationship(**base.model_dump(), blocking=blocking)


async def blocked_by(*, db: Database, user_id: int, among: list[int]) -> set[int]:
    """Which of ``among`` ``user_id`` blocks by name (one direction): a profile's "blocking"
    flag, which its Unblock takes back. A block of a whole server hides the same accounts
    through ``access.blocked_user_ids`` and ``graph.blocked_between``, but is not reported here:
    it is taken back from the list of blocked servers (``domain_blocks``), not per account."""
    async with db.read_session() as session:
        return set((await session.scalars(sa.select(Block.blocked_id).where(
            Block.blocker_id == user_id, Block.blocked_id.in_(set(among))))).all())


async def follow_counts(*, db: Database, user_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(followers, following) per user, exact."""
    async with db.read_session() as session:
        return await graph.counts_of(session, user_ids)


async def followee_ids(*, db: Database, user_id: int, limit: int | None = None) -> list[int]:
    """Who ``user_id`` follows, most recent first (the feed's "following" source)."""
    query = sa.select(Follow.followee_id).where(Follow.follower_id == user_id).order_by(Follow.id.desc())
    async with db.session() as session:
        return list((await session.scalars(query.limit(limit) if limit else query)).all())


def followees_query(user_id: int | sa.BindParameter[int], limit: int) -> sa.Select[int, int]:
    """Whom ``user_id`` follows, newest first, up to ``limit``: (followee ID, rank from 1), so a
    reader that combines it with other statements keeps the order."""
    return (sa.select(Follow.followee_id, sa.func.row_number().over(order_by=Follow.id.desc()).label("rank"))
            .where(Follow.follower_id == user_id).order_by(Follow.id.desc()).limit(limit))


async def followees_above(*, db: Database, user_id: int, min_followers: int) -> dict[int, datetime]:
    """Accounts ``user_id`` follows that have more than ``min_followers`` followers, with the
    time the follow began."""
    query = (sa.select(Follow.followee_id, Follow.created_at)
             .join(FollowCount, FollowCount.user_id == Follow.followee_id)
             .where(Follow.follower_id == user_id, FollowCount.followers > min_followers))
    async with db.session() as session:
        return {int(uid): since for uid, since in (await session.execute(query)).all()}


async def iter_follower_ids(*, db: Database, user_id: int, batch: int = 1000,
                            since: datetime | None = None) -> AsyncIterator[list[int]]:
    """Every follower of ``user_id`` (who followed at ``since`` or before), in batches."""
    after = -1
    while True:
        query = sa.select(Follow.id, Follow.follower_id).where(Follow.followee_id == user_id, Follow.id > after)
        if since is not None:
            query = query.where(Follow.created_at <= since)
        async with db.session() as session:
            rows = (await session.execute(query.order_by(Follow.id).limit(batch))).all()
        if not rows:
            return
        yield [follower for _, follower in rows]
        after = rows[-1][0]
        if len(rows) < batch:
            return


async def list_follows(*, services: Services, user: User, viewer_id: int | None, direction: str,
                       cursor: str | None, limit: int) -> FollowPage:
    """``direction``: "followers" (who follows ``user``) or "following" (whom ``user`` follows)."""
    db = services.db
    hidden = await access.blocked_user_ids(db=db, user_id=viewer_id) if viewer_id is not None else set()
    if user.id in hidden:
        raise NotFound(f"no user {user.id}")
    mine, other = ((Follow.followee_id, Follow.follower_id) if direction == "followers"
                   else (Follow.follower_id, Follow.followee_id))
    position = decode_cursor(cursor)
    query = sa.select(Follow.id, other, Follow.created_at).where(mine == user.id)
    if "before" in position:
        query = query.where(Follow.id < cursor_int(position, "before"))
    async with db.read_session() as session:
        rows = (await session.execute(query.order_by(Follow.id.desc()).limit(limit + 1))).all()
    rows, next_cursor = keyset_page(rows, limit, lambda r: {"before": str(r[0])})
    people = await access.active_users(db=db, user_ids=[r[1] for r in rows])
    shown = [r for r in rows if r[1] in people and r[1] not in hidden]
    ids = [r[1] for r in shown]
    following: set[int] = set()
    follows_you: set[int] = set()
    if viewer_id is not None:
        async with db.read_session() as session:
            following = await graph.following_among(session, viewer_id, ids)
            follows_you = await graph.followers_among(session, viewer_id, ids)
    items = [FollowEntry(user=accounts.public_view(people[uid], settings=services.settings),
                         following=uid in following, follows_you=uid in follows_you, since=since)
             for _, uid, since in shown]
    return FollowPage(items=items, next_cursor=next_cursor)
