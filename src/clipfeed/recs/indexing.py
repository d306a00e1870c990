"""Clip cards written from the clips table: for one batch of clips (the indexer, on clip
events) or for every listed clip (``rebuild_cards``: ``clipfeed recs reindex`` and the stream
role's card upkeep, ``clipfeed.recs.upkeep``, after the cache lost them).

A clip is *listed*, so has a card, while it is ready and public and its creator is neither
suspended nor deleted (``is_listed`` and ``active``; ``LISTED`` is the first half in SQL).

The rebuild is idempotent: a card is written whole in one command and a pool entry is a
sorted-set member keyed by clip ID, so writing them again changes nothing. Killed half-way,
the batches written stay written, and running it again (by hand, or the upkeep's next check
finding cards still missing) goes over every clip from the first. It never brings back a clip
taken out meanwhile: each batch is read from the primary again once written, and a clip no
longer listed loses what was just written for it. A clip made private after that second read
is taken out by the indexer, whose removal then comes after our write. What remains is a
process killed between a batch's write and its second read, in the same milliseconds as a
change of one of its clips: that card stays until the clip's next event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips.models import Clip, ClipStatus, Visibility
from clipfeed.federation import service as federation
from clipfeed.recs import render
from clipfeed.recs.cards import ClipCard, put_cards, remove_clip, sketch
from clipfeed.recs.render_keys import view_key
from clipfeed.recs.signals import SIGNALS, card_words

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

BATCH = 2000  # clips per step of a rebuild: one read, one bulk write, one read again


def is_listed(clip: Clip) -> bool:
    return clip.status == ClipStatus.ready.value and clip.visibility == Visibility.public.value


def active(owner: User | None) -> bool:
    """A creator whose clips may be listed (a suspended account's come back with it)."""
    return owner is not None and owner.deleted_at is None and owner.suspended_at is None


LISTED = (Clip.status == ClipStatus.ready.value, Clip.visibility == Visibility.public.value)


async def active_owners(session: AsyncSession, owner_ids: Iterable[int]) -> set[int]:
    """Those of ``owner_ids`` whose clips may be listed, read by primary key. (Joined in the
    clips query instead, the planner may start from the users table and read every ready clip
    where a few hundred were wanted.)"""
    wanted = set(owner_ids)
    if not wanted:
        return set()
    return set(await session.scalars(sa.select(User.id).where(User.id.in_(wanted), User.deleted_at.is_(None),
                                                              User.suspended_at.is_(None))))


async def index_clips(clips: list[Clip], *, services: Services, fresh: bool = True) -> int:
    """Give the listed ones of ``clips`` their cards and pool entries (bulk); returns how many."""
    candidates = [c for c in clips if is_listed(c)]
    if not candidates:
        return 0
    owners = await accounts.get_many(db=services.db, user_ids=list({c.owner_id for c in candidates}))
    chosen = [c for c in candidates if active(owners.get(c.owner_id))]
    if not chosen:
        return 0
    await render.cache_views(chosen, owners, services=services)  # ready before any feed serves them
    vectors = await SIGNALS.embeddings(chosen, services=services)
    cards = []
    for clip in chosen:
        owner = owners[clip.owner_id]
        published = (clip.published_at or clip.created_at).timestamp()
        cards.append(ClipCard(clip.id, clip.owner_id, tuple(clip.hashtags or ()), clip.duration_ms or 15_000,
                              published, owner.language, owner.region, sketch(vectors.get(clip.id)),
                              card_words(clip.caption, clip.hashtags or ())))
    rule = await federation.discovery_rule(services=services)
    unpooled = frozenset(clip.id for clip in chosen if not rule.admits(owners[clip.owner_id].domain))
    return await put_cards(services.cache, cards, fresh=fresh, unpooled=unpooled)


async def unlist(clip_id: int, clip: Clip | None, *, services: Services) -> None:
    """Take a clip out of every feed (``clip``: its row as last read, to name its pools)."""
    await remove_clip(services.cache, clip_id, creator_id=clip.owner_id if clip else None,
                      hashtags=list(clip.hashtags or []) if clip else [])
    await services.cache.delete(view_key(clip_id))


async def rebuild_cards(*, services: Services, batch: int = BATCH,
                        step: Callable[[int], Awaitable[bool]] | None = None) -> int:
    """Write the card and pool entries of every listed clip again, in ID order; returns how many
    clips got theirs. ``step`` is awaited after each batch with the running total; it returns
    False to stop there (a lease lost to another process). The fresh pool is left alone: a
    clip's first impressions are counted in the cache, and a rebuild cannot know them."""
    total, after = 0, 0
    while True:
        async with services.db.read_session() as session:
            rows = list((await session.scalars(sa.select(Clip).where(*LISTED, Clip.id > after)
                                               .order_by(Clip.id).limit(batch))).all())
        if not rows:
            return total
        total += await index_clips(rows, fresh=False, services=services)  # leaves out inactive creators
        # Read again from the primary (see the module's docstring): what was unlisted
        # meanwhile loses what we just wrote.
        async with services.db.session() as session:
            now = (await session.execute(sa.select(Clip.id, Clip.owner_id).where(
                *LISTED, Clip.id >= rows[0].id, Clip.id <= rows[-1].id))).all()
            owners = await active_owners(session, {owner for _, owner in now})
        still = {clip_id for clip_id, owner in now if owner in owners}
        for clip in rows:
            if clip.id not in still:
                await unlist(clip.id, clip, services=services)
        after = rows[-1].id
        if step is not None and not await step(total):
            return total
