"""Which found clips a viewer may see: the one place search asks it, so the shared visibility
rule (``social.can_see``) replaces this body alone when it lands.

The index holds listed clips only, but it trails the state of record by the indexer's lag, so
every result is checked against the clip row here: ready and public (not private, unlisted,
followers-only, held for review, rejected or deleted), creator active, and no block either
way. The check is one joined select of the few columns the ranking needs (no ORM objects: a
search checks up to a hundred rows), read fresh on every request — never cached, so a clip
made private or a block placed hides the clip from the next search on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clipfeed.accounts.models import User
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipStatus, Visibility
from clipfeed.federation.service import RemoteRule
from clipfeed.infra.db import Database, read_rows
from clipfeed.search import mutes
from clipfeed.search.models import MuteFilter
from clipfeed.social import access as social_access
from clipfeed.social import graph
from clipfeed.social.models import Block, Follow


@dataclass(frozen=True)
class VisibleClip:
    id: int
    owner_id: int
    owner_handle: str
    caption: str
    hashtags: tuple[str, ...]
    published_at: datetime


@dataclass(frozen=True)
class Viewer:
    """What a signed-in viewer's search depends on: whom they follow, who is hidden from them
    (blocks either way) and their mute filters. Anonymous: all empty."""

    followed: frozenset[int] = frozenset()
    hidden: frozenset[int] = frozenset()
    muted: mutes.Mutes = mutes.Mutes()


# Whom a viewer follows, blocks either way (by name or by server: ``social_access.blocked_in``'s
# rule) and their mute filters, each row tagged with what it is: one statement (a search reads
# it once).
_VIEWER_ID: sa.BindParameter[int] = sa.bindparam("viewer")
_NO_ID, _NO_TEXT = sa.cast(sa.null(), sa.BigInteger), sa.cast(sa.null(), sa.String)
_BY_SERVER = sa.union(graph.domain_blocked_accounts(_VIEWER_ID), graph.domain_blockers_of(_VIEWER_ID)).subquery()
_VIEWER = sa.union_all(
    sa.select(sa.literal("f"), Follow.followee_id, _NO_TEXT).where(Follow.follower_id == _VIEWER_ID),
    sa.select(sa.literal("b"), Block.blocked_id, _NO_TEXT).where(Block.blocker_id == _VIEWER_ID),
    sa.select(sa.literal("b"), Block.blocker_id, _NO_TEXT).where(Block.blocked_id == _VIEWER_ID),
    sa.select(sa.literal("b"), _BY_SERVER.c.id, _NO_TEXT),
    sa.select(MuteFilter.kind, _NO_ID, MuteFilter.value).where(MuteFilter.user_id == _VIEWER_ID))


async def viewer(*, db: Database, viewer_id: int | None) -> Viewer:
    if viewer_id is None:
        return Viewer()
    async with db.read_session() as session:
        rows = await read_rows(session, _VIEWER, {"viewer": viewer_id})
    followed = frozenset(int(u) for k, u, _ in rows if k == "f")
    hidden = frozenset(int(u) for k, u, _ in rows if k == "b")
    return Viewer(followed=followed, hidden=hidden, muted=mutes.from_filters([(k, v) for k, _, v in rows
                                                                              if k not in ("f", "b")]))


async def visible_clips(*, db: Database, viewer_id: int | None, clip_ids: list[int]) -> dict[int, Clip]:
    """The clips among ``clip_ids`` that the viewer may see, as full rows (pages of clips
    shown: Discover, hashtag pages, similar clips, a page of search results)."""
    found = await clips_service.get_many(db=db, clip_ids=clip_ids)
    listed = {i: c for i, c in found.items()
              if c.status == ClipStatus.ready.value and c.visibility == Visibility.public.value}
    owners = await social_access.active_users(db=db, user_ids=list({c.owner_id for c in listed.values()}))
    hidden = await social_access.blocked_user_ids(db=db, user_id=viewer_id) if viewer_id is not None else set()
    return {i: c for i, c in listed.items() if c.owner_id in owners and c.owner_id not in hidden}


# Built once (a statement's construction and cache key cost about 0.1 ms each time): the IDs
# are one expanding parameter, the viewer a parameter.
LOCAL_ONLY = RemoteRule(included=False)
_IDS: sa.BindParameter[object] = sa.bindparam("ids", expanding=True)
# The owner's handle and server, NULL unless the owner is active: a look-up by primary key for
# each clip row (a scalar subquery, never planned as a join, so the plan stays the same
# whatever the tables' statistics say: a join planned on stale ones scanned every user). One
# statement for the rows and their owners: each statement costs a round of hand-offs to the
# connection's thread (SQLite) or a round trip (PostgreSQL), on every search.
_OWNER_ACTIVE = sa.and_(User.id == Clip.owner_id, User.deleted_at.is_(None), User.suspended_at.is_(None))
_RANKED_CLIPS = (sa.select(Clip.id, Clip.owner_id, Clip.caption, Clip.hashtags, Clip.published_at, Clip.created_at,
                           sa.select(User.handle).where(_OWNER_ACTIVE).scalar_subquery(),
                           sa.select(User.domain).where(_OWNER_ACTIVE).scalar_subquery())
                 .where(Clip.id.in_(_IDS), Clip.status == ClipStatus.ready.value,
                        Clip.visibility == Visibility.public.value))
_ACTIVE = sa.select(User.id).where(User.id.in_(_IDS), User.deleted_at.is_(None), User.suspended_at.is_(None))
# The same, less those blocked either way with the viewer (``social_access.hidden_from``).
_ACTIVE_NOT_HIDDEN = _ACTIVE.where(User.id.not_in(social_access.hidden_from(_VIEWER_ID)))


async def ranked_rows(*, db: Database, who: Viewer, clip_ids: list[int],
                      remote: RemoteRule = LOCAL_ONLY) -> dict[int, VisibleClip]:
    """The clips among ``clip_ids`` that ``who`` may see and has not muted: the few columns
    the ranking needs. Other servers' clips as ``remote`` (the federation's discovery rule,
    which the index follows too) says: this holds for the semantic list as well."""
    if not clip_ids:
        return {}
    async with db.read_session() as session:
        rows = await read_rows(session, _RANKED_CLIPS, {"ids": list(set(clip_ids))})
    out = {}
    for clip_id, owner_id, caption, hashtags, published, created, handle, domain in rows:
        if handle is None or not remote.admits(domain) or owner_id in who.hidden:
            continue
        tags = tuple(hashtags or ())
        if who.muted and who.muted.hides_text(caption, tags):
            continue
        out[int(clip_id)] = VisibleClip(int(clip_id), int(owner_id), handle, caption, tags, published or created)
    return out


async def visible_creators(*, db: Database, viewer_id: int | None, user_ids: list[int],
                           hidden: frozenset[int] | None = None) -> set[int]:
    """Creators that exist, are not suspended and are not blocked either way with the viewer
    (``hidden``: the viewer's, when already read)."""
    if not user_ids:
        return set()
    ids = list(set(user_ids))
    async with db.read_session() as session:
        if hidden is None and viewer_id is not None:  # the blocks checked in the same statement
            return {int(r[0]) for r in await read_rows(session, _ACTIVE_NOT_HIDDEN, {"ids": ids, "viewer": viewer_id})}
        active = {r[0] for r in await read_rows(session, _ACTIVE, {"ids": ids})}
    return {int(u) for u in active if u not in (hidden or frozenset())}
