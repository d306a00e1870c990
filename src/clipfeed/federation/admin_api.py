"""Federation in the public API (thin routes): finding an account of another server to follow,
and the admins' view of remote servers and their policies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import UserPublic
from clipfeed.federation import admin, remote
from clipfeed.federation.models import DomainPolicy, RemoteInstance
from clipfeed.http.deps import CurrentUser, Deps, require_admin

router = APIRouter(prefix="/v1", tags=["federation"])
Server = Annotated[str, Path(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
                             description="a server's host name, with its port when not the default")]


Software = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9._-]+$",
                               description="a NodeInfo software name: mastodon, misskey …")]


class RemoteAccountPublic(UserPublic):
    actor_uri: str
    server: str


class RemoteServerPublic(BaseModel):
    server: str
    policy: DomainPolicy
    software: str | None
    first_seen_at: datetime
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failures_in_a_row: int
    dead: bool


class RemoteServerPage(BaseModel):
    items: list[RemoteServerPublic]


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: DomainPolicy = Field(description="none, allow (allowlist mode), silence, reject_media or suspend")


@router.get("/federation/lookup", response_model=RemoteAccountPublic)
async def lookup(user: CurrentUser, services: Deps,
                 account: Annotated[str, Query(min_length=3, max_length=300, pattern=r"^@?[^@\s]+@[^@\s]+$",
                                               description="name@server, as people write it")]) -> RemoteAccountPublic:
    """An account of another server, fetched through its WebFinger, ready to follow by ``id``."""
    await services.limiter.hit("federation.lookup", str(user.id), limit=30, per_seconds=60)
    actor = await remote.resolve_account(account, services=services)
    found = (await accounts.get_many(db=services.db, user_ids=[actor.user_id]))[actor.user_id]
    view = accounts.public_view(found, settings=services.settings)
    return RemoteAccountPublic(**view.model_dump(), actor_uri=actor.uri, server=actor.domain)


@router.get("/admin/federation/servers", response_model=RemoteServerPage)
async def servers(user: CurrentUser, services: Deps) -> RemoteServerPage:
    require_admin(user)
    async with services.db.session() as session:
        rows = (await session.scalars(sa.select(RemoteInstance).order_by(RemoteInstance.domain).limit(1000))).all()
    return RemoteServerPage(items=[_server(row) for row in rows])


@router.put("/admin/federation/servers/{server}", response_model=RemoteServerPublic)
async def set_server_policy(server: Server, body: PolicyUpdate, user: CurrentUser,
                            services: Deps) -> RemoteServerPublic:
    require_admin(user)
    await admin.set_server_policy(admin.checked_server(server), body.policy, services=services)
    async with services.db.session() as session:
        row = await session.get(RemoteInstance, server.lower())
    assert row is not None
    return _server(row)


@router.put("/admin/federation/software/{software}", response_model=RemoteServerPage)
async def set_software_policy(software: Software, body: PolicyUpdate, user: CurrentUser,
                              services: Deps) -> RemoteServerPage:
    """The policy for every server met so far that runs ``software``; the servers changed."""
    require_admin(user)
    changed = [server for server, _ in await admin.apply_to_software(software, body.policy, services=services)]
    async with services.db.session() as session:
        rows = (await session.scalars(sa.select(RemoteInstance).where(RemoteInstance.domain.in_(changed))
                                      .order_by(RemoteInstance.domain))).all() if changed else []
    return RemoteServerPage(items=[_server(row) for row in rows])


def _server(row: RemoteInstance) -> RemoteServerPublic:
    return RemoteServerPublic(server=row.domain, policy=DomainPolicy(row.policy), software=row.software,
                              first_seen_at=row.first_seen_at, last_success_at=row.last_success_at,
                              last_failure_at=row.last_failure_at, failures_in_a_row=row.failures,
                              dead=row.dead_since is not None)
