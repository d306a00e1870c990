"""Who we federate with: the instance's mode (open, allowlist, closed) and each remote
server's policy (``DomainPolicy``), and the delivery health of each server.

The inbox asks on every request, so each process keeps what it read of a server (its policy
and whether it is marked dead) for ``STATE_TTL_S``. A change made through ``set_policy`` or
``heard_from`` updates this process's copy at once: a suspension made by the admin API or
the CLI refuses the very next activity in the process that made it, and takes effect within
``STATE_TTL_S`` in every other process (other API processes, a CLI run against the same
database). A server that the delivery loop marks dead elsewhere is seen dead, and revived by
its next activity, within the same delay. The admin paths (``policy_of``) read the database.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.core.errors import Forbidden
from clipfeed.federation.models import DomainPolicy, RemoteInstance
from clipfeed.infra.db import Database, insert_ignore

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

# How long a process trusts its copy of a server's policy and health: the longest a change
# made by another process goes unseen here.
STATE_TTL_S = 10.0
_KNOWN_MAX = 10_000


def clock() -> float:
    """The clock the copies are dated by (a name of its own, so a test can age them)."""
    return time.monotonic()


@dataclass(frozen=True)
class ServerState:
    policy: DomainPolicy
    dead: bool
    read_at: float  # clock() when the read that found it began (or the change was made)


# Per Database (not per id(): a test's database may be freed and another get its address).
_KNOWN: weakref.WeakKeyDictionary[Database, dict[str, ServerState]] = weakref.WeakKeyDictionary()


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
    """Raise 403 unless we federate with ``server``; whether we had marked it dead. Read from
    this process's copy when it is younger than ``STATE_TTL_S``, else from the database."""
    state = await _state(server, services=services)
    if not allows(services.settings.federation_mode, state.policy):
        raise Forbidden(f"this server does not federate with {server[:200]}")
    return state.dead


async def heard_from(server: str, *, services: Services) -> None:
    """A server we had given up on sent us something: it is alive again. A write only when it
    was marked dead (the inbox calls this only then)."""
    known = _known(services.db)
    before = known.get(server)
    if before is not None:  # concurrent requests of a revived server: one write, not one each
        _keep(known, server, ServerState(before.policy, False, clock()))
    try:
        async with services.db.session() as session:
            await session.execute(sa.update(RemoteInstance).where(
                RemoteInstance.domain == server, RemoteInstance.dead_since.is_not(None)).values(
                dead_since=None, failures=0))
    except BaseException:
        known.pop(server, None)  # read again next time
        raise


async def set_policy(server: str, policy: DomainPolicy, *, services: Services) -> None:
    async with services.db.session() as session:
        await insert_ignore(session, RemoteInstance, {"domain": server, "policy": policy.value, "failures": 0})
        await session.execute(sa.update(RemoteInstance).where(RemoteInstance.domain == server).values(
            policy=policy.value))
        dead = await session.scalar(sa.select(RemoteInstance.dead_since).where(RemoteInstance.domain == server))
    # Dated after the commit: a read that began before it cannot put the old policy back.
    _keep(_known(services.db), server, ServerState(policy, dead is not None, clock()))


async def _state(server: str, *, services: Services) -> ServerState:
    known = _known(services.db)
    found = known.get(server)
    if found is not None and clock() - found.read_at < STATE_TTL_S:
        return found
    reading_since = clock()
    async with services.db.session() as session:
        row = (await session.execute(sa.select(RemoteInstance.policy, RemoteInstance.dead_since).where(
            RemoteInstance.domain == server))).first()
    state = ServerState(DomainPolicy(row[0]) if row else DomainPolicy.none, bool(row and row[1] is not None),
                        reading_since)
    latest = known.get(server)
    if latest is not None and latest.read_at > reading_since:  # changed here while we read
        return latest
    _keep(known, server, state)
    return state


def _known(db: Database) -> dict[str, ServerState]:
    found = _KNOWN.get(db)
    if found is None:
        found = _KNOWN[db] = {}
    return found


def _keep(known: dict[str, ServerState], server: str, state: ServerState) -> None:
    if server not in known and len(known) >= _KNOWN_MAX:
        known.pop(next(iter(known)))  # the oldest entry made
    known[server] = state
