"""Federation in the public API (thin routes): finding an account of another server to follow,
and the admins' view of remote servers and their policies."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import UserPublic
from clipfeed.federation import admin, media_cache, remote
from clipfeed.federation.models import DomainPolicy, MediaMode, RemoteInstance
from clipfeed.http.deps import CurrentUser, Deps, require_admin

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

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
    media: MediaMode | None = Field(description="this server's own media setting; null: the instance's")
    media_effective: MediaMode = Field(description="how its clips are played here: from it (stream) or cached")
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


class ServerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: DomainPolicy | None = Field(default=None, description="none, allow (allowlist mode), silence, "
                                                                  "reject_media or suspend; left as it is if absent")
    media: Literal["stream", "cache", "default"] | None = Field(
        default=None, description="stream its clips from it, cache them here, or default (the instance's "
                                  "setting); left as it is if absent")

    @model_validator(mode="after")
    def _something(self) -> ServerUpdate:
        if self.policy is None and self.media is None:
            raise ValueError("give a policy, a media setting, or both")
        return self


class SoftwarePolicyPublic(BaseModel):
    software: str
    policy: DomainPolicy


class SoftwarePolicyList(BaseModel):
    items: list[SoftwarePolicyPublic]


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
    return RemoteServerPage(items=[_server(row, services=services) for row in rows])


@router.put("/admin/federation/servers/{server}", response_model=RemoteServerPublic)
async def set_server_policy(server: Server, body: ServerUpdate, user: CurrentUser,
                            services: Deps) -> RemoteServerPublic:
    """A server's policy, its media setting, or both (a server not met yet is remembered)."""
    require_admin(user)
    name = admin.checked_server(server)
    if body.media is not None:
        await media_cache.set_mode(name, None if body.media == "default" else MediaMode(body.media),
                                   services=services)
    if body.policy is not None:
        await admin.set_server_policy(name, body.policy, services=services)
    async with services.db.session() as session:
        row = await session.get(RemoteInstance, name)
    assert row is not None
    return _server(row, services=services)


@router.get("/admin/federation/software", response_model=SoftwarePolicyList)
async def software_policies(user: CurrentUser, services: Deps) -> SoftwarePolicyList:
    """The policies set by software name: they also apply to servers met later."""
    require_admin(user)
    found = await admin.software_policies(services=services)
    return SoftwarePolicyList(items=[SoftwarePolicyPublic(software=name, policy=chosen)
                                     for name, chosen in sorted(found.items())])


@router.put("/admin/federation/software/{software}", response_model=RemoteServerPage)
async def set_software_policy(software: Software, body: PolicyUpdate, user: CurrentUser,
                              services: Deps) -> RemoteServerPage:
    """The policy for every server running ``software``: those met so far (the servers changed
    are returned) and those met later (``none`` forgets it). A server's own policy wins."""
    require_admin(user)
    changed = [server for server, _ in await admin.apply_to_software(software, body.policy, services=services)]
    async with services.db.session() as session:
        rows = (await session.scalars(sa.select(RemoteInstance).where(RemoteInstance.domain.in_(changed))
                                      .order_by(RemoteInstance.domain))).all() if changed else []
    return RemoteServerPage(items=[_server(row, services=services) for row in rows])


def _server(row: RemoteInstance, *, services: Services) -> RemoteServerPublic:
    own = MediaMode(row.media) if row.media else None
    return RemoteServerPublic(server=row.domain, policy=DomainPolicy(row.policy), media=own,
                              media_effective=own or MediaMode(services.settings.federation_remote_media),
                              software=row.software, first_seen_at=row.first_seen_at,
                              last_success_at=row.last_success_at, last_failure_at=row.last_failure_at,
                              failures_in_a_row=row.failures, dead=row.dead_since is not None)
