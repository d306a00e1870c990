"""Routes: follows, relationships, suggestions and blocks. ``{user_ref}`` is a user ID or a
handle (``@handle`` when the handle is all digits)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.http.deps import CurrentUser, Deps, OptionalUser
from clipfeed.http.idempotency import IdempotentRoute
from clipfeed.http.params import UserRef
from clipfeed.http.replicas import StaleReadsOk
from clipfeed.social import access, blocks, follows, suggestions
from clipfeed.social.limits import hit_write
from clipfeed.social.schemas import BlockPage, BlockState, FollowPage, FollowState, Relationship, SuggestionList

router = APIRouter(prefix="/v1", tags=["social"], route_class=IdempotentRoute)
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.put("/users/{user_ref}/follow", response_model=FollowState)
async def follow(user_ref: UserRef, user: CurrentUser, services: Deps) -> FollowState:
    """Follow (idempotent: following twice is following once)."""
    await hit_write(user, "follow", services=services)
    target = await access.resolve_user(db=services.db, ref=user_ref)
    return await follows.follow(services=services, follower=user, followee=target)


@router.delete("/users/{user_ref}/follow", response_model=FollowState)
async def unfollow(user_ref: UserRef, user: CurrentUser, services: Deps) -> FollowState:
    await hit_write(user, "follow", services=services)
    target = await access.resolve_user(db=services.db, ref=user_ref)
    return await follows.unfollow(services=services, follower=user, followee=target)


@router.get("/users/{user_ref}/relationship", response_model=Relationship)
async def relationship(user_ref: UserRef, viewer: OptionalUser, services: Deps) -> Relationship:
    """Follower/following counts (exact) and, signed in, whether you follow each other."""
    target = await access.resolve_user(db=services.db, ref=user_ref)
    return await follows.relationship(db=services.db, viewer_id=viewer.id if viewer else None, user=target)


@router.get("/users/{user_ref}/followers", response_model=FollowPage, dependencies=[StaleReadsOk])
async def followers(user_ref: UserRef, viewer: OptionalUser, services: Deps, cursor: str | None = None,
                    limit: Limit = DEFAULT_LIMIT) -> FollowPage:
    target = await access.resolve_user(db=services.db, ref=user_ref)
    return await follows.list_follows(services=services, user=target, viewer_id=viewer.id if viewer else None,
                                      direction="followers", cursor=cursor, limit=limit)


@router.get("/users/{user_ref}/following", response_model=FollowPage, dependencies=[StaleReadsOk])
async def following(user_ref: UserRef, viewer: OptionalUser, services: Deps, cursor: str | None = None,
                    limit: Limit = DEFAULT_LIMIT) -> FollowPage:
    target = await access.resolve_user(db=services.db, ref=user_ref)
    return await follows.list_follows(services=services, user=target, viewer_id=viewer.id if viewer else None,
                                      direction="following", cursor=cursor, limit=limit)


@router.get("/me/suggested-creators", response_model=SuggestionList)
async def suggested(user: CurrentUser, services: Deps,
                    limit: Annotated[int, Query(ge=1, le=50)] = 20) -> SuggestionList:
    return await suggestions.suggested_creators(services=services, user=user, limit=limit)


@router.put("/users/{user_ref}/block", response_model=BlockState)
async def block(user_ref: UserRef, user: CurrentUser, services: Deps) -> BlockState:
    """Block: hides each one's clips and comments from the other, prevents follows and
    comments, and removes the follows between you both ways."""
    await hit_write(user, "block", services=services)
    target = await access.resolve_user(db=services.db, ref=user_ref)
    return await blocks.block(services=services, blocker=user, blocked=target)


@router.delete("/users/{user_ref}/block", response_model=BlockState)
async def unblock(user_ref: UserRef, user: CurrentUser, services: Deps) -> BlockState:
    await hit_write(user, "block", services=services)
    target = await access.resolve_user(db=services.db, ref=user_ref)
    return await blocks.unblock(services=services, blocker=user, blocked=target)


@router.get("/me/blocks", response_model=BlockPage)
async def my_blocks(user: CurrentUser, services: Deps, cursor: str | None = None,
                    limit: Limit = DEFAULT_LIMIT) -> BlockPage:
    return await blocks.list_blocked(services=services, user=user, cursor=cursor, limit=limit)
