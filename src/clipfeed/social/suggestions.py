"""Suggested creators: friends of friends first, then creators popular in the viewer's region.

* Friends of friends: accounts followed by the (up to 500 most recent) accounts you follow,
  ranked by how many of them follow each one.
* Popular in region: owners of the clips trending in your region (the stream's trending sets),
  then, to fill up, the most-followed accounts of your region.

Never yourself, anyone you follow, anyone blocked either way, or suspended/deleted accounts.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips import service as clips
from clipfeed.social import access, graph
from clipfeed.social.follows import follow_counts
from clipfeed.social.models import Follow, FollowCount
from clipfeed.social.schemas import Suggestion, SuggestionList
from clipfeed.stream import trending

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

FRIENDS_SCANNED = 500
POPULAR_SCANNED = 200


async def _friends_of_friends(user_id: int, limit: int, *, services: Services) -> list[tuple[int, int]]:
    mine = aliased(Follow)
    theirs = aliased(Follow)
    friends = (sa.select(mine.followee_id).where(mine.follower_id == user_id)
               .order_by(mine.id.desc()).limit(FRIENDS_SCANNED).scalar_subquery())
    already = sa.select(Follow.followee_id).where(Follow.follower_id == user_id)
    mutual = sa.func.count().label("mutual")
    query = (sa.select(theirs.followee_id, mutual)
             .where(theirs.follower_id.in_(friends), theirs.followee_id != user_id,
                    theirs.followee_id.notin_(already))
             .group_by(theirs.followee_id).order_by(mutual.desc(), theirs.followee_id).limit(limit))
    async with services.db.session() as session:
        return [(int(uid), int(n)) for uid, n in (await session.execute(query)).all()]


async def _popular(region: str | None, *, services: Services) -> list[int]:
    """Creators by trending clips in the region, then by followers."""
    ranked: dict[int, float] = {}
    with contextlib.suppress(Exception):  # trending lives in the cache: a miss is no error here
        top = await trending.top_clips(services=services, region=region, limit=50)
        owners = await clips.get_many(db=services.db, clip_ids=[c for c, _ in top])
        for clip_id, score in top:
            if clip_id in owners:
                owner = owners[clip_id].owner_id
                ranked[owner] = ranked.get(owner, 0.0) + score
    by_trend = sorted(ranked, key=lambda u: -ranked[u])
    async with services.db.session() as session:
        by_followers = list((await session.scalars(sa.select(FollowCount.user_id).where(FollowCount.followers > 0)
                                                   .order_by(FollowCount.followers.desc(), FollowCount.user_id)
                                                   .limit(POPULAR_SCANNED))).all())
    return list(dict.fromkeys([*by_trend, *by_followers]))


async def suggested_creators(*, services: Services, user: User, limit: int) -> SuggestionList:
    hidden = await access.blocked_user_ids(db=services.db, user_id=user.id)
    friends = await _friends_of_friends(user.id, limit * 3, services=services)
    popular = await _popular(user.region, services=services)
    async with services.db.session() as session:
        followed = await graph.following_among(session, user.id, popular)
    candidates: dict[int, tuple[str, int]] = {}
    for uid, mutual in friends:
        candidates.setdefault(uid, ("followed_by_friends", mutual))
    for uid in popular:
        candidates.setdefault(uid, ("popular_in_region", 0))
    excluded = hidden | followed | {user.id}
    wanted = [uid for uid in candidates if uid not in excluded]
    people = await access.active_users(db=services.db, user_ids=wanted)
    picked = [uid for uid in wanted if uid in people and (
        candidates[uid][0] == "followed_by_friends" or not user.region or people[uid].region == user.region)][:limit]
    counts = await follow_counts(db=services.db, user_ids=picked)
    return SuggestionList(items=[
        Suggestion(user=accounts.public_view(people[uid], settings=services.settings), reason=candidates[uid][0],
                   mutual_count=candidates[uid][1], followers_count=counts[uid][0]) for uid in picked])

