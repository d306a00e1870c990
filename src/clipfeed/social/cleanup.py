"""When an account is deleted (``user.deleted`` on ``users``), its social rows go: follows both
ways (with counts and ``follow.removed``), blocks (of accounts and of servers), its likes and
bookmarks (with ``like.removed``/``bookmark.removed`` so counts fall), its comments (with
``comment.deleted``) and its likes on comments. Every step is idempotent and committed in
chunks: a worker killed half-way leaves the rest for the redelivered event.

When a user blocks or unblocks a whole server (``user.domain_blocked``/``.domain_unblocked``),
their cached feed links are dropped once more: the request dropped them already, but a feed
build that read the blocks just before the change committed may have cached them since.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa

from clipfeed.clips import service as clips
from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.runtime.consumers import EventByEvent, Processor
from clipfeed.social import events, graph
from clipfeed.social.blocks import feeds_reread_blocks
from clipfeed.social.comments import take_down
from clipfeed.social.models import (
    Block,
    Bookmark,
    Comment,
    CommentLike,
    CommentStatus,
    Follow,
    FollowCount,
    Like,
    UserDomainBlock,
)

CHUNK = 500


class SocialCleanup(EventByEvent):
    group: ClassVar[str] = "social-cleanup"
    topics: ClassVar[tuple[str, ...]] = (contract.Topic.USERS,)
    ack_wait: ClassVar[float] = 120.0

    def __post_init__(self) -> None:
        events.start_shard_relays(services=self.services)

    async def handle_event(self, event: Event) -> None:
        if event.type == contract.USER_DELETED.name:
            await remove_user(self, int(event.key))
        elif event.type in (contract.DOMAIN_BLOCK_ADDED.name, contract.DOMAIN_BLOCK_REMOVED.name):
            change = contract.DOMAIN_BLOCK_ADDED.parse_payload(event.payload)
            await feeds_reread_blocks(change.user_id, services=self.services)


async def remove_user(processor: Processor, user_id: int) -> None:
    services = processor.services
    db = services.db
    while True:
        async with db.session() as session:
            pairs = (await session.execute(sa.select(Follow.follower_id, Follow.followee_id).where(
                sa.or_(Follow.follower_id == user_id, Follow.followee_id == user_id)).limit(CHUNK))).all()
            for follower, followee in pairs:
                await graph.remove_follow(session, follower, followee, services=services)
        if len(pairs) < CHUNK:
            break
    async with db.session() as session:
        await session.execute(sa.delete(Block).where(sa.or_(Block.blocker_id == user_id, Block.blocked_id == user_id)))
        await session.execute(sa.delete(UserDomainBlock).where(UserDomainBlock.user_id == user_id))
        await session.execute(sa.delete(FollowCount).where(FollowCount.user_id == user_id))
    for table, noun in ((Like, "like"), (Bookmark, "bookmark")):
        await _remove_saved(processor, table, noun, user_id)
    for index in range(db.shard_count):
        await _remove_comments(processor, index, user_id)


async def _remove_saved(processor: Processor, table: Any, noun: str, user_id: int) -> None:
    services = processor.services
    while True:
        async with services.db.shard_session(user_id) as session:
            clip_ids = list((await session.scalars(sa.select(table.clip_id).where(table.user_id == user_id)
                                                   .limit(CHUNK))).all())
        owners = await clips.get_many(db=services.db, clip_ids=clip_ids)
        async with services.db.shard_session(user_id) as session:
            await session.execute(sa.delete(table).where(table.user_id == user_id, table.clip_id.in_(clip_ids)))
            for clip_id in clip_ids:
                creator = owners[clip_id].owner_id if clip_id in owners else 0
                events.record(session, contract.ENGAGEMENT[noun, False], key=clip_id, actor_id=user_id,
                              shard_key=user_id, services=services,
                              payload=contract.ClipEngagement(
                                  user_id=user_id, clip_id=clip_id, creator_id=creator, reason="account deleted"))
        if len(clip_ids) < CHUNK:
            return


async def _remove_comments(processor: Processor, shard: int, user_id: int) -> None:
    services = processor.services
    async with services.db.shard_session_at(shard) as session:
        liked = (await session.execute(sa.select(CommentLike.comment_id).where(CommentLike.user_id == user_id))).all()
        for (comment_id,) in liked:
            await session.execute(sa.update(Comment).where(Comment.id == comment_id)
                                  .values(like_count=Comment.like_count - 1))
        await session.execute(sa.delete(CommentLike).where(CommentLike.user_id == user_id))
    while True:
        async with services.db.shard_session_at(shard) as session:
            written = list((await session.scalars(sa.select(Comment).where(
                Comment.author_id == user_id,
                Comment.status.in_([CommentStatus.visible.value, CommentStatus.held.value])).limit(CHUNK)
                .with_for_update())).all())
            owners = await clips.get_many(db=services.db, clip_ids=[c.clip_id for c in written])
            for comment in written:
                if comment.status in (CommentStatus.visible.value, CommentStatus.held.value):
                    creator = owners[comment.clip_id].owner_id if comment.clip_id in owners else 0
                    await take_down(session, comment, creator, user_id, CommentStatus.deleted, "account deleted",
                                    services=services)
        if len(written) < CHUNK:
            return
