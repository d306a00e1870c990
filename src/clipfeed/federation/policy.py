"""Who we federate with: the instance's mode (open, allowlist, closed) and each remote
server's policy (``DomainPolicy``), and the delivery health of each server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.core.errors import Forbidden
from clipfeed.federation.models import DomainPolicy, RemoteInstance
from clipfeed.infra.db import insert_ignore

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


async def policy_of(server: str, *, services: Services) -> DomainPolicy:
    async with services.db.session() as session:
        value = await session.scalar(sa.select(RemoteInstance.policy).where(RemoteInstance.domain == server))
    return DomainPolicy(value) if value else DomainPolicy.none


async def allowed(server: str, *, services: Services) -> bool:
    mode = services.settings.federation_mode
    if mode == "closed":
        return False
    found = await policy_of(server, services=services)
    if found == DomainPolicy.suspend:
        return False
    return mode == "open" or found == DomainPolicy.allow


async def check_inbound(server: str, *, services: Services) -> None:
    if not await allowed(server, services=services):
        raise Forbidden(f"this server does not federate with {server[:200]}")


async def heard_from(server: str, *, services: Services) -> None:
    """The server sent us something: it is alive again if we had given up on it."""
    async with services.db.session() as session:
        await session.execute(sa.update(RemoteInstance).where(
            RemoteInstance.domain == server, RemoteInstance.dead_since.is_not(None)).values(
            dead_since=None, failures=0))


async def set_policy(server: str, policy: DomainPolicy, *, services: Services) -> None:
    async with services.db.session() as session:
        await insert_ignore(session, RemoteInstance, {"domain": server, "policy": policy.value, "failures": 0})
        await session.execute(sa.update(RemoteInstance).where(RemoteInstance.domain == server).values(
            policy=policy.value))
