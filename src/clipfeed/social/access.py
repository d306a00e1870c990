"""Who may see what: user references, blocks, and the clips a viewer may engage with."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips import service as clips
from clipfeed.clips.models import Clip
from clipfeed.core.errors import NotFound
from clipfeed.infra.db import Database, together
from clipfeed.social import graph
from clipfeed.social.models import Block


async def resolve_user(*, db: Database, ref: str) -> User:
    """``ref`` is a user ID (digits only) or a handle, optionally written ``@handle``.
    A string of digits is always an ID, so a handle made of digits is written ``@123``."""
    return await accounts.get_by_ref(db=db, ref=ref)


async def active_users(*, db: Database, user_ids: list[int]) -> dict[int, User]:
    """The users among ``user_ids`` that still exist and are not suspended."""
    found = await accounts.get_many(db=db, user_ids=user_ids)
    return {uid: u for uid, u in found.items() if u.deleted_at is None and u.suspended_at is None}


async def blocked_user_ids(*, db: Database, user_id: int) -> set[int]:
    """Users hidden from ``user_id`` and from whom ``user_id`` is hidden: those they block and
    those who block them, by name or by blocking a whole server (every account of a server
    they block, and whoever blocks the server their own account is on). Feeds and
    recommendations filter these out."""
    async with db.read_session(access=True) as session:
        return await blocked_in(session, user_id)


async def blocked_in(session: AsyncSession, user_id: int) -> set[int]:
    return {int(r[0]) for r in await session.execute(graph.hidden_from(user_id))}


def hidden_from(viewer_id: int | sa.BindParameter[int]) -> sa.CompoundSelect:
    """``blocked_user_ids`` as a query, for a reader on the main database: ``column.not_in(...)``
    keeps the list out of the statement (``graph.hidden_from``)."""
    return graph.hidden_from(viewer_id)


async def is_blocked(*, db: Database, a: int, b: int) -> bool:
    """Whether either of the two blocks the other (by name, or by blocking the other's server)."""
    if a == b:
        return False
    async with db.read_session(access=True) as session:
        return await graph.blocked_between(session, a, b)


def can_see(*, viewer_id: int | None, clip: Clip, creator: User | None, hidden: set[int]) -> bool:
    """The one rule for whether ``viewer_id`` (None: anonymous) may see ``clip``: its state
    and visibility allow it (``clips.can_view``: owners see their own clips in any state but
    deleted, others ready public or unlisted ones), its creator's account is neither deleted
    nor suspended, and no block stands between viewer and creator either way (``hidden``,
    from ``blocked_user_ids``). Every read of a clip goes through this, so a blocked or
    suspended creator's clip is "not found" in each of them alike."""
    if not clips.can_view(clip, viewer_id):
        return False
    if viewer_id == clip.owner_id:
        return True
    if creator is None or creator.deleted_at is not None or creator.suspended_at is not None:
        return False
    return clip.owner_id not in hidden


async def visible_clip(*, db: Database, clip_id: int, viewer_id: int | None) -> Clip:
    """The clip if ``viewer_id`` may see it (``can_see``); 404 otherwise, including when the
    viewer and the creator block each other (a blocked user's content is hidden, not
    forbidden)."""
    found = await visible_clips(db=db, clip_ids=[clip_id], viewer_id=viewer_id)
    if clip_id not in found:
        raise NotFound(f"no clip {clip_id}")
    return found[clip_id]


async def visible_clips(*, db: Database, clip_ids: list[int], viewer_id: int | None) -> dict[int, Clip]:
    """The clips among ``clip_ids`` that ``viewer_id`` may see (``can_see``), by ID: three
    queries for a whole list (trending, a page of engagement), whatever its length."""
    if not clip_ids:
        return {}
    # The clips and the viewer's blocks at once: a like or comment waits for one round trip.
    # ``together``, not a bare gather: on a page that tolerates stale reads, the block check
    # reads the replica (within its bound) as the request's own reads do.
    hidden: set[int] = set()
    if viewer_id is None:
        found = await clips.get_many(db=db, clip_ids=clip_ids)
    else:
        found, hidden = await together(clips.get_many(db=db, clip_ids=clip_ids),
                                       blocked_user_ids(db=db, user_id=viewer_id))
    creators = await accounts.get_many(db=db, user_ids=list({c.owner_id for c in found.values()}))
    return {clip_id: clip for clip_id, clip in found.items()
            if can_see(viewer_id=viewer_id, clip=clip, creator=creators.get(clip.owner_id), hidden=hidden)}


async def blocked_pairs(*, db: Database, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of the ``(a, b)`` pairs are blocked either way, by name or by server (one query
    for a whole batch)."""
    wanted = {(a, b) for a, b in pairs if a != b}
    if not wanted:
        return set()
    people = {u for pair in wanted for u in pair}
    async with db.read_session(access=True) as session:
        rows = (await session.execute(sa.select(Block.blocker_id, Block.blocked_id).where(
            Block.blocker_id.in_(people), Block.blocked_id.in_(people))
            .union_all(graph.domain_blocks_among(people)))).all()
    blocked = {frozenset((int(x), int(y))) for x, y in rows}
    return {pair for pair in wanted if frozenset(pair) in blocked}
