"""Who is asking for a feed, and their links (follows, blocks, onboarding interests, followed
hashtags and mute filters).

Viewers are keyed as ``clipfeed.core.viewers`` says (``u:<user id>``, ``d:<16 hex>``).
Anonymous viewers get a feed too, keyed by a device: apps send ``X-Device-ID`` (any stable
random string); browsers get an HttpOnly ``cf_device`` cookie on their first feed request. An
anonymous viewer has a seen set, a buffer and a live profile like anyone
else, but no follows, blocks, interests or filters.

Links are cached per viewer for ``LINKS_TTL_S`` seconds and dropped as soon as the stream worker
sees a follow or block event of that viewer (``recs-feedback``), or the viewer changes their
interests, followed hashtags or mute filters: a block takes effect within the worker's lag
(about a second), a filter at once, on buffered clips too, since every page is checked against
the blocked set and the filters.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
import sqlalchemy as sa

from clipfeed.core.singleflight import SingleFlight
from clipfeed.core.viewers import ViewerId
from clipfeed.recs.models import Dismissal, ViewerInterests
from clipfeed.recs.profile import STATE_TTL_S, known_key
from clipfeed.recs.signals import SIGNALS
from clipfeed.search import discovery
from clipfeed.search.mutes import Mutes
from clipfeed.search.mutes import filters_query as mutes_query
from clipfeed.search.mutes import from_filters as mutes_from_filters

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

LINKS_TTL_S = 300.0
DISMISS_DAYS = 30  # "not interested" and "hide this creator" (``clipfeed.recs.dismissals``)
DISMISSALS_READ = 5000  # per kind, newest first: more than a month of heavy use


@dataclass(frozen=True)
class FeedViewer:
    key: str
    user_id: int | None = None
    region: str = "global"
    language: str | None = None
    device: str = "unknown"
    network: str | None = None

    @classmethod
    def signed_in(cls, user_id: int, **kwargs: object) -> FeedViewer:
        return cls(key=ViewerId.signed_in(user_id).key, user_id=user_id, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def anonymous(cls, device_id: str, **kwargs: object) -> FeedViewer:
        return cls(key=ViewerId.anonymous(device_id).key, **kwargs)  # type: ignore[arg-type]


@dataclass
class Links:
    following: list[int] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    interests: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # followed hashtags, latest first
    mutes: Mutes = field(default_factory=Mutes)
    dismissed: set[int] = field(default_factory=set)  # clips the viewer is not interested in
    hidden: set[int] = field(default_factory=set)  # creators the viewer hid

    def leaves_out(self, clip_id: int, creator_id: int) -> bool:
        """Whether For You must not serve this clip to the viewer (blocks, dismissals)."""
        return creator_id in self.blocked or creator_id in self.hidden or clip_id in self.dismissed


def links_key(viewer: str) -> str:
    return f"recs:links:{viewer}"


def decode_links(raw: bytes) -> Links:
    data = orjson.loads(raw)
    return Links(data["f"], set(data["b"]), data["i"], data.get("t", []), Mutes.decoded(data.get("m")),
                 set(data.get("x", [])), set(data.get("h", [])))


# A viewer's links missing from the cache are read once per process, however many of their
# requests (feed pages, prefetches, several devices) miss at that moment.
_READING: SingleFlight[tuple[int, str, bool], Links] = SingleFlight()


async def viewer_links(viewer: FeedViewer, *, services: Services, blocks_only: bool = False) -> Links:
    if viewer.user_id is None:
        return Links()
    raw = await services.cache.get(links_key(viewer.key))
    if raw is not None:
        return decode_links(raw)
    return await _READING.run((id(services), viewer.key, blocks_only),
                              lambda: _read_links(viewer, services=services, blocks_only=blocks_only))


async def _read_links(viewer: FeedViewer, *, services: Services, blocks_only: bool) -> Links:
    assert viewer.user_id is not None
    # Filters and followed tags are read even for a new viewer: muting is often the first thing done.
    # Dismissals too: "not interested" may come before any follow.
    user_id = viewer.user_id

    async def interests_read() -> list[str]:
        return [] if blocks_only else await get_interests(user_id, services=services)

    (following, blocked, tags, mutes), (dismissed, hidden), interests = await asyncio.gather(
        _main_links(user_id, blocks_only=blocks_only, services=services), dismissals_of(user_id, services=services),
        interests_read())
    links = Links(following, blocked, interests, tags, mutes, dismissed, hidden)
    await services.cache.set(links_key(viewer.key), orjson.dumps(
        {"f": links.following, "b": sorted(links.blocked), "i": links.interests, "t": links.tags,
         "m": links.mutes.encoded(), "x": sorted(links.dismissed), "h": sorted(links.hidden)}), ttl=LINKS_TTL_S)
    return links


async def forget_links(user_id: int, *, services: Services, followed_hashtag: bool = False) -> None:
    """Drop the cached links after a change; ``followed_hashtag``: like following a creator,
    that is history, so the next For You page is a personal build (with the tag's clips)
    rather than a cold start."""
    key = ViewerId.signed_in(user_id).key
    await services.cache.delete(links_key(key))
    if followed_hashtag:
        await services.cache.set(known_key(key), b"1", ttl=STATE_TTL_S)


@functools.cache
def _links_statement(blocks_only: bool) -> sa.CompoundSelect:
    """``_main_links``'s statement, built once with the viewer as a parameter: building it and
    computing its cache key each time cost more than running it."""
    viewer = sa.bindparam("viewer", type_=sa.BigInteger)
    text, number = sa.cast(sa.null(), sa.String), sa.cast(sa.null(), sa.BigInteger)
    hidden = SIGNALS.hidden_from(viewer).subquery()
    tags = discovery.followed_query(viewer).subquery()
    filters = mutes_query(viewer).subquery()
    parts = [sa.select(sa.literal("b"), text, text, list(hidden.c)[0], number),
             sa.select(sa.literal("t"), tags.c.tag, text, number, tags.c.rank),
             sa.select(sa.literal("m"), filters.c.kind, filters.c.value, number, number)]
    if not blocks_only:
        followees = SIGNALS.following(viewer).subquery()
        parts.append(sa.select(sa.literal("f"), text, text, followees.c.followee_id, followees.c.rank))
    return sa.union_all(*parts)


async def _main_links(user_id: int, *, services: Services,
                      blocks_only: bool) -> tuple[list[int], set[int], list[str], Mutes]:
    """Whom the viewer follows (unless ``blocks_only``), who is hidden from them either way,
    the hashtags they follow and their mute filters: one statement on the main database rather
    than four (each costs a new viewer's first page a round trip; on SQLite, a dozen hand-offs
    to its thread). Each part is the owning module's query; rows are (part, text, text, id, rank)."""
    found: dict[str, list[tuple[str | None, str | None, int | None, int | None]]] = {"b": [], "t": [], "m": [],
                                                                                       "f": []}
    # Blocks and filters decide what is shown: an access read (``read_session(access=True)``).
    async with services.db.read_session(access=True) as session:
        for part, first, second, number_, rank in await session.execute(_links_statement(blocks_only),
                                                                        {"viewer": user_id}):
            found[part].append((first, second, number_, rank))
    by_rank = sorted(found["f"], key=lambda row: row[3] or 0), sorted(found["t"], key=lambda row: row[3] or 0)
    return ([int(row[2]) for row in by_rank[0] if row[2] is not None],
            {int(row[2]) for row in found["b"] if row[2] is not None},
            [str(row[0]) for row in by_rank[1]],
            mutes_from_filters([(str(kind), str(value)) for kind, value, _, _ in found["m"]]))


async def dismissals_of(user_id: int, *, services: Services) -> tuple[set[int], set[int]]:
    """The clips and the creators ``user_id`` dismissed, still within their days."""
    found: dict[str, set[int]] = {"clip": set(), "creator": set()}
    async with services.db.shard_session(user_id) as session:
        for kind, subject in await session.execute(_dismissals_statement(), {
                "viewer": user_id, "now": datetime.now(UTC), "per_kind": DISMISSALS_READ}):
            found[kind].add(int(subject))
    return found["clip"], found["creator"]


@functools.cache
def _dismissals_statement() -> sa.CompoundSelect:
    """Both kinds' newest dismissals still within their days, in one statement (every new
    viewer's first page reads them), built once (see ``_links_statement``)."""
    viewer = sa.bindparam("viewer", type_=sa.BigInteger)
    now = sa.bindparam("now", type_=Dismissal.expires_at.type)
    newest = [sa.select(Dismissal.kind, Dismissal.subject_id)
              .where(Dismissal.user_id == viewer, Dismissal.kind == kind, Dismissal.expires_at > now)
              .order_by(Dismissal.created_at.desc()).limit(sa.bindparam("per_kind", type_=sa.Integer)).subquery()
              for kind in ("clip", "creator")]
    return sa.union_all(*(sa.select(part.c.kind, part.c.subject_id) for part in newest))


async def get_interests(user_id: int, *, services: Services) -> list[str]:
    async with services.db.shard_session(user_id) as session:
        row = await session.get(ViewerInterests, user_id)
    return list(row.hashtags) if row else []


async def set_interests(user_id: int, hashtags: list[str], *, services: Services) -> list[str]:
    """Replace the viewer's interests (one row, upserted in one transaction: a killed process
    leaves the old list or the new one). The next buffer uses them."""
    async with services.db.shard_session(user_id) as session:
        row = await session.get(ViewerInterests, user_id, with_for_update=True)
        if row is None:
            session.add(ViewerInterests(user_id=user_id, hashtags=hashtags))
        else:
            row.hashtags = hashtags
    await forget_links(user_id, services=services)
    return hashtags


async def delete_interests(user_id: int, *, services: Services) -> None:
    async with services.db.shard_session(user_id) as session:
        await session.execute(sa.delete(ViewerInterests).where(ViewerInterests.user_id == user_id))
