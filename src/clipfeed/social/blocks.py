"""Blocks: idempotent block/unblock and the list of blocked accounts.

Blocking drops the follows between the two users both ways in the same transaction (with their
counts and ``follow.removed`` events); killed half-way, nothing of it has happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.core.errors import BadRequest
from clipfeed.core.pagination import decode_cursor
from clipfeed.social import access, graph
from clipfeed.social.models import Block
from clipfeed.social.paging import cursor_int, keyset_page
from clipfeed.social.schemas import BlockedUser, BlockPage, BlockState

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


async def block(*, services: Services, blocker: User, blocked: User) -> BlockState:
    if blocker.id == blocked.id:
        raise BadRequest("you cannot block yourself")
    async with services.db.session() as session:
        await graph.lock_pair(session, blocker.id, blocked.id)
        await graph.add_block(session, blocker.id, blocked.id, services=services)
    await feeds_reread_blocks(blocker.id, blocked.id, services=services)
    return BlockState(user_id=str(blocked.id), blocking=True)


async def unblock(*, services: Services, blocker: User, blocked: User) -> BlockState:
    async with services.db.session() as session:
        await graph.remove_block(session, blocker.id, blocked.id, services=services)
    await feeds_reread_blocks(blocker.id, blocked.id, services=services)
    return BlockState(user_id=str(blocked.id), blocking=False)


async def feeds_reread_blocks(*user_ids: int, services: Services) -> None:
    """These users' feeds filter with their block lists as of now. A worker also does this
    when the block event reaches it (the recs worker for ``block.added``, the social cleanup for
    ``user.domain_blocked``), but that is seconds later, and until then a feed page could still
    serve the other's clips. Imported here: recs builds on social, not the reverse."""
    from clipfeed.recs.viewers import forget_links

    for user_id in user_ids:
        await forget_links(user_id, services=services)


async def list_blocked(*, services: Services, user: User, cursor: str | None, limit: int) -> BlockPage:
    position = decode_cursor(cursor)
    query = sa.select(Block.id, Block.blocked_id, Block.created_at).where(Block.blocker_id == user.id)
    if "before" in position:
        query = query.where(Block.id < cursor_int(position, "before"))
    async with services.db.session() as session:
        rows = (await session.execute(query.order_by(Block.id.desc()).limit(limit + 1))).all()
    rows, next_cursor = keyset_page(rows, limit, lambda r: {"before": str(r[0])})
    people = await access.active_users(db=services.db, user_ids=[r[1] for r in rows])
    items = [BlockedUser(user=accounts.public_view(people[uid], settings=services.settings), since=since)
             for _, uid, since in rows if uid in people]
    return BlockPage(items=items, next_cursor=next_cursor)
