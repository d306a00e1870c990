"""The follow graph and blocks inside one main-database transaction.

Follower/following counts are counter rows changed in the same transaction as ``follows``, so
they are exact at every commit (docs/benchmarks.md, "Social", has the measurement behind this choice). A
follow and a block of the same pair lock both users' counter rows first, in ID order, so the
two serialise: a follow can never slip in beside a block.

A user's block of a whole server (``user_domain_blocks``) counts as a block of every account of
it, both ways, known now or met later: ``domain_blocked_accounts`` and ``domain_blockers_of``
are read beside ``blocks`` wherever blocks are read (here, ``access``, search's viewer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.accounts.models import User
from clipfeed.core import contract
from clipfeed.infra.db import insert_for, insert_ignore, utcnow
from clipfeed.social import events
from clipfeed.social.models import Block, Follow, FollowCount, UserDomainBlock

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


async def bump_counts(session: AsyncSession, deltas: dict[int, tuple[int, int]]) -> None:
    """Add (followers, following) deltas to users' counter rows, in user ID order."""
    for user_id in sorted(deltas):
        followers, following = deltas[user_id]
        stmt = insert_for(session, FollowCount).values(user_id=user_id, followers=max(followers, 0),
                                                       following=max(following, 0))
        await session.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_={
            "followers": FollowCount.followers + followers, "following": FollowCount.following + following}))


async def lock_pair(session: AsyncSession, a: int, b: int) -> None:
    await bump_counts(session, {a: (0, 0), b: (0, 0)})


def domain_blocked_accounts(user_id: int | sa.BindParameter[int]) -> sa.Select[int]:
    """The accounts of the servers ``user_id`` blocks (their IDs)."""
    return (sa.select(User.id).join(UserDomainBlock, UserDomainBlock.domain == User.domain)
            .where(UserDomainBlock.user_id == user_id))


def domain_blockers_of(user_id: int | sa.BindParameter[int]) -> sa.Select[int]:
    """The users who block the server ``user_id``'s account is on (none for a local account)."""
    return (sa.select(UserDomainBlock.user_id).join(User, User.domain == UserDomainBlock.domain)
            .where(User.id == user_id))


def hidden_from(viewer_id: int | sa.BindParameter[int]) -> sa.CompoundSelect:
    """Everyone hidden from ``viewer_id`` and from whom they are hidden (their IDs): those they
    block and who block them, by name or by server. A query, not a list: a reader on the same
    database filters with it (``NOT IN`` a subquery), however many accounts a blocked server has."""
    return sa.union(sa.select(Block.blocked_id).where(Block.blocker_id == viewer_id),
                    sa.select(Block.blocker_id).where(Block.blocked_id == viewer_id),
                    domain_blocked_accounts(viewer_id), domain_blockers_of(viewer_id))


def domain_blocks_among(people: set[int]) -> sa.Select[int, int]:
    """(user, account) pairs among ``people`` where the user blocks the account's server."""
    return (sa.select(UserDomainBlock.user_id, User.id).join(User, User.domain == UserDomainBlock.domain)
            .where(UserDomainBlock.user_id.in_(people), User.id.in_(people)))


async def blocked_between(session: AsyncSession, a: int, b: int) -> bool:
    """Whether either blocks the other, by name or by blocking the other's server."""
    by_name = sa.select(Block.blocker_id).where(sa.or_(
        sa.and_(Block.blocker_id == a, Block.blocked_id == b),
        sa.and_(Block.blocker_id == b, Block.blocked_id == a)))
    by_server = (sa.select(UserDomainBlock.user_id).join(User, User.domain == UserDomainBlock.domain)
                 .where(sa.or_(sa.and_(UserDomainBlock.user_id == a, User.id == b),
                               sa.and_(UserDomainBlock.user_id == b, User.id == a))))
    return bool(await session.scalar(sa.select(sa.or_(sa.exists(by_name), sa.exists(by_server)))))


async def add_follow(session: AsyncSession, follower_id: int, followee_id: int, *, services: Services) -> bool:
    """Create the follow (True) or find it there already (False). Caller checked blocks."""
    created = await insert_ignore(session, Follow, {
        "follower_id": follower_id, "followee_id": followee_id, "id": services.ids.next_id(),
        "created_at": utcnow()})
    if created:
        await bump_counts(session, {followee_id: (1, 0), follower_id: (0, 1)})
        events.record(session, contract.FOLLOW_ADDED, key=followee_id, actor_id=follower_id,
                      payload=contract.FollowChanged(user_id=follower_id, followee_id=followee_id),
                      services=services)
    return created


async def remove_follow(session: AsyncSession, follower_id: int, followee_id: int, *, services: Services,
                        ended_by: int | None = None) -> bool:
    """Drop the follow (True) or find none (False). ``ended_by``: who ended it, when not the
    follower (``contract.FollowChanged``)."""
    result = await session.execute(sa.delete(Follow).where(Follow.follower_id == follower_id,
                                                           Follow.followee_id == followee_id))
    removed = bool(getattr(result, "rowcount", 0))
    if removed:
        await bump_counts(session, {followee_id: (-1, 0), follower_id: (0, -1)})
        # Left unset (not null) when the follower ended it, as every follow.removed was written before.
        change = (contract.FollowChanged(user_id=follower_id, followee_id=followee_id) if ended_by is None
                  else contract.FollowChanged(user_id=follower_id, followee_id=followee_id, ended_by=ended_by))
        events.record(session, contract.FOLLOW_REMOVED, key=followee_id, actor_id=follower_id, payload=change,
                      services=services)
    return removed


async def add_block(session: AsyncSession, blocker_id: int, blocked_id: int, *, services: Services) -> bool:
    """Block and drop the follows between the two, both ways."""
    created = await insert_ignore(session, Block, {
        "blocker_id": blocker_id, "blocked_id": blocked_id, "id": services.ids.next_id(), "created_at": utcnow()})
    await remove_follow(session, blocker_id, blocked_id, services=services, ended_by=blocker_id)
    await remove_follow(session, blocked_id, blocker_id, services=services, ended_by=blocker_id)
    if created:
        events.record(session, contract.BLOCK_ADDED, key=blocked_id, actor_id=blocker_id,
                      payload=contract.BlockChanged(user_id=blocker_id, blocked_id=blocked_id),
                      services=services)
    return created


async def remove_block(session: AsyncSession, blocker_id: int, blocked_id: int, *, services: Services) -> bool:
    result = await session.execute(sa.delete(Block).where(Block.blocker_id == blocker_id,
                                                          Block.blocked_id == blocked_id))
    removed = bool(getattr(result, "rowcount", 0))
    if removed:
        events.record(session, contract.BLOCK_REMOVED, key=blocked_id, actor_id=blocker_id,
                      payload=contract.BlockChanged(user_id=blocker_id, blocked_id=blocked_id),
                      services=services)
    return removed


async def counts_of(session: AsyncSession, user_ids: list[int]) -> dict[int, tuple[int, int]]:
    rows = await session.execute(sa.select(FollowCount.user_id, FollowCount.followers, FollowCount.following)
                                 .where(FollowCount.user_id.in_(set(user_ids))))
    found = {user_id: (followers, following) for user_id, followers, following in rows}
    return {u: found.get(u, (0, 0)) for u in user_ids}


async def following_among(session: AsyncSession, follower_id: int, user_ids: list[int]) -> set[int]:
    """Which of ``user_ids`` ``follower_id`` follows."""
    if not user_ids:
        return set()
    return set((await session.scalars(sa.select(Follow.followee_id).where(
        Follow.follower_id == follower_id, Follow.followee_id.in_(set(user_ids))))).all())


async def followers_among(session: AsyncSession, followee_id: int, user_ids: list[int]) -> set[int]:
    """Which of ``user_ids`` follow ``followee_id``."""
    if not user_ids:
        return set()
    return set((await session.scalars(sa.select(Follow.follower_id).where(
        Follow.followee_id == followee_id, Follow.follower_id.in_(set(user_ids))))).all())
