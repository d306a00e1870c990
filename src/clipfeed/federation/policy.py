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


def allows(mode: str, found: DomainPolicy) -> bool:
    """The instance's mode and a server's policy: may we federate with it?"""
    if mode == "closed" or found == DomainPolicy.suspend:
        return False
    return mode == "open" or found == DomainPolicy.allow


async def allowed(server: str, *, services: Services) -> bool:
    return allows(services.settings.federation_mode, await policy_of(server, services=services))


async def check_inbound(server: str, *, services: Services) -> bool:
    """Raise 403 unless we federate with ``server``; whether we had marked it dead (one read)."""
    async with services.db.session() as session:
        row = (await session.execute(sa.select(RemoteInstance.policy, RemoteInstance.dead_since).where(
            RemoteInstance.domain == server))).first()
    found = DomainPolicy(row[0]) if row else DomainPolicy.none
    if not allows(services.settings.federation_mode, found):
        raise Forbidden(f"this server does not federate with {server[:200]}")
    return bool(row and row[1] is not None)


async def heard_from(server: str, *, services: Services) -> None:
    """A server we had given up on sent us something: it is alive again."""
    async with services.db.session() as session:
        await session.execute(sa.update(RemoteInstance).where(
            RemoteInstance.domain == server, RemoteInstance.dead_since.is_not(None)).values(
            dead_since=None, failures=0))


async def set_policy(server: str, policy: DomainPolicy, *, services: Services) -> None:
    async with services.db.session() as session:
        await insert_ignore(session, RemoteInstance, {"domain": server, "policy": policy.value, "failures": 0})
        await session.execute(sa.update(RemoteInstance).where(RemoteInstance.domain == server).values(
            policy=policy.value))
