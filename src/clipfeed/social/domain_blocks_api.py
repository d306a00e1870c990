"""Routes: the signed-in user's blocks of whole servers (``social.domain_blocks``).
``{domain}`` is a server's name, with its port when not the default."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.idempotency import IdempotentRoute
from clipfeed.http.openapi import problem_response
from clipfeed.social import domain_blocks
from clipfeed.social.limits import hit_write
from clipfeed.social.schemas import BlockedServerPage, ServerBlockRequest, ServerBlockState

router = APIRouter(prefix="/v1", tags=["social"], route_class=IdempotentRoute)
# Writes share the block routes' limit (``social_write_rate_per_minute``).
LIMITED: dict[int | str, dict[str, object]] = {429: problem_response(429, Retry_After=True)}
Domain = Annotated[str, Path(min_length=1, max_length=300, examples=["video.example"],
                             description="a server's name, with its port when not the default")]


@router.get("/me/domain-blocks", response_model=BlockedServerPage)
async def my_domain_blocks(user: CurrentUser, services: Deps, cursor: str | None = None,
                           limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> BlockedServerPage:
    """The servers you block, the latest first."""
    return await domain_blocks.list_blocked_domains(services=services, user=user, cursor=cursor, limit=limit)


@router.post("/me/domain-blocks", response_model=ServerBlockState, responses=LIMITED)
async def block_domain(body: ServerBlockRequest, user: CurrentUser, services: Deps) -> ServerBlockState:
    """Block a whole server: every account of it, known now or met later, and you stop seeing
    each other as with a block of each; the follows between you and them go, both ways.
    Idempotent; at most 1,000 servers (409 beyond); never this server (422)."""
    await hit_write(user, "block", services=services)
    return await domain_blocks.block_domain(services=services, user=user, domain=body.domain)


@router.get("/me/domain-blocks/{domain}", response_model=ServerBlockState)
async def domain_block_state(domain: Domain, user: CurrentUser, services: Deps) -> ServerBlockState:
    """Whether you block that server."""
    return await domain_blocks.domain_block_state(services=services, user=user, domain=domain)


@router.delete("/me/domain-blocks/{domain}", response_model=ServerBlockState, responses=LIMITED)
async def unblock_domain(domain: Domain, user: CurrentUser, services: Deps) -> ServerBlockState:
    """Stop blocking that server (idempotent). The follows the block removed stay removed."""
    await hit_write(user, "block", services=services)
    return await domain_blocks.unblock_domain(services=services, user=user, domain=domain)
