"""Admins' federation work: the status report, domain policies (one server or a list), and
what suspending a server does to what is already stored from it.

Suspending a server (defederation) suspends every account of it we know, so their profiles,
follows, likes and comments disappear everywhere here as a suspended local account's do, and
deletes the clips stored from it and the deliveries queued for it. Lifting the suspension
reinstates the accounts; the removed clips stay removed. Each step is idempotent: a process that dies
half-way is finished by running the same command again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips
from clipfeed.core.errors import Invalid
from clipfeed.federation import policy
from clipfeed.federation.models import (
    Delivery,
    DomainPolicy,
    ReceivedActivity,
    RemoteActor,
    RemoteInstance,
    RemoteObject,
    SoftwarePolicy,
)
from clipfeed.infra.db import utcnow

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

SERVER = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$")
SUSPENSION_REASON = "server suspended by an admin (federation)"


@dataclass
class ServerStatus:
    server: str
    policy: str
    queued: int
    retrying: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failures: int
    dead: bool


@dataclass
class StatusReport:
    mode: str
    waiting: int
    received_last_hour: int
    servers: list[ServerStatus] = field(default_factory=list)


async def status(*, services: Services) -> StatusReport:
    async with services.db.session() as session:
        queued = dict((await session.execute(sa.select(Delivery.domain, sa.func.count()).group_by(
            Delivery.domain))).all())
        retrying = dict((await session.execute(sa.select(Delivery.domain, sa.func.count()).where(
            Delivery.attempts > 0).group_by(Delivery.domain))).all())
        received = await session.scalar(sa.select(sa.func.count()).select_from(ReceivedActivity).where(
            ReceivedActivity.received_at >= utcnow() - timedelta(hours=1)))
        servers = (await session.scalars(sa.select(RemoteInstance).order_by(RemoteInstance.domain))).all()
    return StatusReport(
        mode=services.settings.federation_mode, waiting=sum(queued.values()), received_last_hour=int(received or 0),
        servers=[ServerStatus(s.domain, s.policy, int(queued.get(s.domain, 0)), int(retrying.get(s.domain, 0)),
                              s.last_success_at, s.last_failure_at, s.failures, s.dead_since is not None)
                 for s in servers])


def parse_list(text: str) -> list[str]:
    """Host names from a blocklist file: one per line, '#' comments, CSV rows (first column,
    as Mastodon exports its domain blocks), a header row skipped."""
    found = []
    for line in text.splitlines():
        name = line.split("#", 1)[0].split(",", 1)[0].strip().lower()
        if name and name not in ("domain", "#domain"):
            found.append(name)
    return found


def checked_server(name: str) -> str:
    server = name.strip().lower()
    if len(server) > 255 or not SERVER.match(server):
        raise Invalid(f"{name[:100]!r} is not a server's host name")
    return server


async def apply_policy(names: list[str], chosen: DomainPolicy, *, services: Services) -> list[tuple[str, str]]:
    """Set ``chosen`` for each server; (server, outcome) per name, bad names reported, not fatal."""
    outcomes = []
    for name in names:
        try:
            server = checked_server(name)
        except Invalid as exc:
            outcomes.append((name, f"skipped: {exc.detail}"))
            continue
        outcomes.append((server, await set_server_policy(server, chosen, services=services)))
    return outcomes


async def apply_to_software(software: str, chosen: DomainPolicy, *, services: Services) -> list[tuple[str, str]]:
    """Set ``chosen`` for every server met so far that runs ``software`` (its NodeInfo name,
    e.g. ``mastodon``, ``peertube``, ``misskey``): a bulk action, like listing them all by
    name. It is also remembered for servers met later (``software_learned``), where a policy an
    admin gave that server itself wins. ``none`` forgets it and changes no server."""
    name = software.strip().lower()[:60]
    async with services.db.session() as session:
        servers = list((await session.scalars(sa.select(RemoteInstance.domain).where(
            RemoteInstance.software == name).order_by(RemoteInstance.domain))).all())
        await session.execute(sa.delete(SoftwarePolicy).where(SoftwarePolicy.software == name))
        if chosen != DomainPolicy.none:
            session.add(SoftwarePolicy(software=name, policy=chosen.value))
    if chosen == DomainPolicy.none:
        return []
    return [(server, await set_server_policy(server, chosen, services=services)) for server in servers]


async def software_policies(*, services: Services) -> dict[str, DomainPolicy]:
    async with services.db.session() as session:
        rows = (await session.execute(sa.select(SoftwarePolicy.software, SoftwarePolicy.policy))).all()
    return {software: DomainPolicy(found) for software, found in rows}


async def software_learned(server: str, software: str, *, services: Services) -> str | None:
    """A newly met server turned out to run ``software``: the policy an admin set for that
    software applies to it, unless the server has one of its own (anything but ``none``).
    The outcome, or None when nothing changed. Called after its software is stored, so a
    process dying in between leaves the server as any other until its software is read again."""
    async with services.db.session() as session:
        chosen = await session.scalar(sa.select(SoftwarePolicy.policy).where(SoftwarePolicy.software == software))
    if chosen is None or await policy.policy_of(server, services=services) != DomainPolicy.none:
        return None
    return await set_server_policy(server, DomainPolicy(chosen), services=services)


async def set_server_policy(server: str, chosen: DomainPolicy, *, services: Services) -> str:
    before = await policy.policy_of(server, services=services)
    await policy.set_policy(server, chosen, services=services)
    if chosen == DomainPolicy.suspend:
        removed = await _suspend_accounts(server, suspended=True, services=services)
        return f"suspended ({removed} clips removed)"
    if before == DomainPolicy.suspend:
        await _suspend_accounts(server, suspended=False, services=services)
        return f"{chosen.value} (accounts reinstated)"
    return chosen.value


async def _suspend_accounts(server: str, *, suspended: bool, services: Services) -> int:
    async with services.db.session() as session:
        user_ids = list((await session.scalars(sa.select(RemoteActor.user_id).where(
            RemoteActor.domain == server))).all())
        if suspended:  # nothing more goes out to it
            await session.execute(sa.delete(Delivery).where(Delivery.domain == server))
    return await suspend_remote_accounts(user_ids, suspended=suspended, services=services)


async def suspend_remote_accounts(user_ids: list[int], *, suspended: bool, services: Services,
                                  reason: str = SUSPENSION_REASON) -> int:
    """Suspend (or reinstate) these remote accounts; suspending also deletes their stored clips.
    The number of clips removed."""
    for user_id in user_ids:
        await accounts.set_suspended(db=services.db, cache=services.cache, outbox=services.outbox, user_id=user_id,
                                     suspended=suspended, reason=reason)
    if not suspended or not user_ids:
        return 0
    async with services.db.session() as session:
        clip_rows = (await session.execute(sa.select(RemoteObject.local_id, RemoteObject.actor_id).where(
            RemoteObject.kind == "clip", RemoteObject.actor_id.in_(user_ids)))).all()
    removed = 0
    for clip_id, owner_id in clip_rows:
        removed += await clips.remove_remote(db=services.db, outbox=services.outbox, clip_id=clip_id, owner_id=owner_id)
    return removed
