"""The admin console's routes (``/v1/admin/…``, admins only) and the public ``/v1/instance``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status

from clipfeed.accounts import service as accounts
from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.http.deps import CurrentUser, Deps, require_admin
from clipfeed.http.health import readiness
from clipfeed.instance import catalogue, health, invites, service
from clipfeed.instance.models import (
    AdminActionPublic,
    AdminAuditPage,
    InstancePublic,
    Invite,
    InviteCreate,
    InvitePage,
    InvitePublic,
    ServiceHealth,
    SettingOverride,
    SettingPublic,
    SettingsPage,
    SettingUpdate,
    StorageReport,
    StorageTier,
)
from clipfeed.runtime.services import Services
from clipfeed.settings import Settings
from clipfeed.storage import report as storage_report

router = APIRouter(prefix="/v1", tags=["admin"])
SettingName = Annotated[str, Path(max_length=64, description="a setting of GET /v1/admin/settings")]
InviteCode = Annotated[str, Path(max_length=64)]


@router.get("/instance", response_model=InstancePublic)
async def instance(services: Deps) -> InstancePublic:
    """Public: the instance's name, description and how people sign up here."""
    s = await service.effective(services=services)
    return InstancePublic(name=s.instance_name, description=s.instance_description,
                          registration_mode=s.registration_mode)


async def _handles(*, services: Services, user_ids: set[int]) -> dict[int, str]:
    users = await accounts.get_many(db=services.db, user_ids=sorted(user_ids))
    return {uid: u.handle for uid, u in users.items()}


def _setting(name: str, *, effective: Settings, base: Settings, row: SettingOverride | None,
             handles: dict[int, str]) -> SettingPublic:
    entry = catalogue.CATALOGUE[name]
    value: Any = catalogue.environment_value(name, effective)
    return SettingPublic(
        name=name, section=entry.section, kind=entry.kind, value=value,
        environment_value=catalogue.environment_value(name, base), environment_variable=entry.environment_variable,
        overridden=row is not None, choices=list(entry.choices) if entry.choices else None,
        minimum=entry.minimum, maximum=entry.maximum, updated_at=row.updated_at if row else None,
        updated_by_handle=handles.get(row.updated_by) if row else None)


async def _settings_page(*, services: Services) -> SettingsPage:
    effective, rows = await service.effective(services=services), await service.overrides(services=services)
    handles = await _handles(services=services, user_ids={row.updated_by for row in rows.values()})
    return SettingsPage(items=[_setting(name, effective=effective, base=services.settings, row=rows.get(name),
                                        handles=handles) for name in catalogue.CATALOGUE])


@router.get("/admin/settings", response_model=SettingsPage)
async def list_settings(user: CurrentUser, services: Deps) -> SettingsPage:
    """Every overridable setting: its effective value, the environment's, and whether an
    admin overrides it."""
    require_admin(user)
    return await _settings_page(services=services)


def _one(page: SettingsPage, name: str) -> SettingPublic:
    return next(item for item in page.items if item.name == name)


@router.put("/admin/settings/{name}", response_model=SettingPublic)
async def set_setting(name: SettingName, body: SettingUpdate, user: CurrentUser, services: Deps) -> SettingPublic:
    """Override a setting (stored in the database; every process applies it within a second)."""
    require_admin(user)
    await service.set_value(services=services, name=name, value=body.value, admin_id=user.id)
    return _one(await _settings_page(services=services), name)


@router.delete("/admin/settings/{name}", response_model=SettingPublic)
async def reset_setting(name: SettingName, user: CurrentUser, services: Deps) -> SettingPublic:
    """Drop the override: the environment's value applies again."""
    require_admin(user)
    await service.reset(services=services, name=name, admin_id=user.id)
    return _one(await _settings_page(services=services), name)


def _invite(invite: Invite, handles: dict[int, str]) -> InvitePublic:
    state: Literal["unused", "used", "revoked"] = (
        "used" if invite.used_at else "revoked" if invite.revoked_at else "unused")
    return InvitePublic(code=invite.code, note=invite.note, created_at=invite.created_at,
                        created_by_handle=handles.get(invite.created_by), state=state, used_at=invite.used_at,
                        used_by_handle=handles.get(invite.used_by) if invite.used_by else None)


@router.get("/admin/invites", response_model=InvitePage)
async def list_invites(user: CurrentUser, services: Deps, cursor: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> InvitePage:
    """Invite codes, newest first, a page at a time."""
    require_admin(user)
    rows, next_cursor = await invites.page(services.db, cursor=cursor, limit=limit)
    people = {i.created_by for i in rows} | {i.used_by for i in rows if i.used_by}
    handles = await _handles(services=services, user_ids=people)
    return InvitePage(items=[_invite(i, handles) for i in rows], next_cursor=next_cursor)


@router.post("/admin/invites", status_code=status.HTTP_201_CREATED, response_model=InvitePublic)
async def create_invite(body: InviteCreate, user: CurrentUser, services: Deps) -> InvitePublic:
    """A new single-use invite code (for an invite-only instance)."""
    require_admin(user)
    await services.limiter.hit("invites", str(user.id), limit=200, per_seconds=3600)
    invite = await invites.create(services=services, admin_id=user.id, note=body.note)
    return _invite(invite, {user.id: user.handle})


@router.delete("/admin/invites/{code}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_invite(code: InviteCode, user: CurrentUser, services: Deps) -> Response:
    """Revoke an unused code (a used one is 409: the account it made stays)."""
    require_admin(user)
    await invites.revoke(services=services, admin_id=user.id, code=code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/admin/audit", response_model=AdminAuditPage)
async def audit(user: CurrentUser, services: Deps, cursor: str | None = None,
                limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> AdminAuditPage:
    """Admins' changes, newest first: who, when, what, from which value to which."""
    require_admin(user)
    rows, next_cursor = await service.audit_page(db=services.db, cursor=cursor, limit=limit)
    handles = await _handles(services=services, user_ids={r.actor_id for r in rows})
    return AdminAuditPage(items=[AdminActionPublic(id=str(r.id), actor_handle=handles.get(r.actor_id),
                                                   action=r.action, subject=r.subject, old=r.old, new=r.new,  # type: ignore[arg-type]
                                                   at=r.at) for r in rows], next_cursor=next_cursor)


@router.get("/admin/storage", response_model=StorageReport)
async def storage(user: CurrentUser, services: Deps) -> StorageReport:
    """Bytes and objects per storage tier and the monthly bill (``clipfeed storage report``)."""
    require_admin(user)
    bill = await storage_report.build(services=services)
    return StorageReport(
        tiers=[StorageTier(name=line.name, objects=line.objects, bytes=line.bytes,
                           price_gb_month=line.price_gb_month, monthly=round(line.monthly, 4)) for line in bill.lines],
        monthly=round(bill.monthly, 4), all_hot_monthly=round(bill.all_hot_monthly, 4),
        saved_monthly=round(bill.saved_monthly, 4), dropped_bytes=bill.dropped_bytes)


@router.get("/admin/health", response_model=ServiceHealth)
async def service_health(user: CurrentUser, services: Deps) -> ServiceHealth:
    """The adapters' readiness and, per worker role, each consumer group's backlog."""
    require_admin(user)
    # The role table lives in the composition layer (clipfeed.workers), above the features.
    from clipfeed.workers import ROLES

    roles: health.RoleTable = {name: [(str(p.group), tuple(p.topics))  # type: ignore[attr-defined]
                                      for p in role.processors] for name, role in ROLES.items()}
    return await health.report(services=services, roles=roles, checks=await readiness(services=services))
