"""Effective settings (the environment's, with admins' overrides on top), changes to them, and
the admin audit.

Every reader of an overridable setting asks ``effective(services=…)`` instead of reading
``services.settings``. Each process caches the overrides with the version they were read at;
a lookup more than ``REFRESH_S`` after the last check reads the one-row version counter again
(a primary-key read) and reloads the overrides only when it moved. A change bumps the counter
in its own transaction and drops this process's cache, so the process that made it sees it at
once and every other process within ``REFRESH_S``.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog

from clipfeed.core.ids import IdGenerator
from clipfeed.core.pagination import id_page
from clipfeed.infra.db import Database, utcnow
from clipfeed.instance import catalogue
from clipfeed.instance.models import AdminAction, SettingOverride, SettingsVersion
from clipfeed.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
REFRESH_S = 1.0
VERSION_ROW = 1
clock = time.monotonic  # tests may hold it still


@dataclass
class _Cached:
    base: Settings
    version: int
    overrides: dict[str, SettingOverride]
    settings: Settings
    checked_at: float


_CACHE: weakref.WeakKeyDictionary[Database, _Cached] = weakref.WeakKeyDictionary()


async def _version(session: AsyncSession) -> int:
    return int(await session.scalar(sa.select(SettingsVersion.version).where(SettingsVersion.id == VERSION_ROW)) or 0)


def _apply(base: Settings, overrides: dict[str, SettingOverride]) -> Settings:
    values: dict[str, Any] = {}
    for name, row in overrides.items():
        try:
            values[name] = catalogue.check(name, row.value, base=base)
        except Exception as exc:  # a value stored by an older version that no longer passes
            log.warning("instance.override_ignored", setting=name, error=str(exc))
    if "screening_policy" in values:
        values["screening_policy"] = {c: tuple(pair) for c, pair in values["screening_policy"].items()}
    return base.model_copy(update=values)


async def _load(*, services: Services) -> _Cached:
    cached = _CACHE.get(services.db)
    now = clock()
    if cached is not None and cached.base is services.settings and now - cached.checked_at < REFRESH_S:
        return cached
    async with services.db.session() as session:
        version = await _version(session)
        if cached is not None and cached.base is services.settings and cached.version == version:
            cached.checked_at = now
            return cached
        rows = {row.name: row for row in await session.scalars(sa.select(SettingOverride))}
    fresh = _Cached(base=services.settings, version=version, overrides=rows,
                    settings=_apply(services.settings, rows), checked_at=now)
    _CACHE[services.db] = fresh
    return fresh


async def effective(*, services: Services) -> Settings:
    """The settings in force: the environment's with admins' overrides (at most ``REFRESH_S``
    old when another process changed them)."""
    return (await _load(services=services)).settings


async def overrides(*, services: Services) -> dict[str, SettingOverride]:
    return dict((await _load(services=services)).overrides)


def forget(db: Database) -> None:
    _CACHE.pop(db, None)


async def _bump(session: AsyncSession) -> None:
    changed = await session.execute(sa.update(SettingsVersion).where(SettingsVersion.id == VERSION_ROW)
                                    .values(version=SettingsVersion.version + 1))
    if not changed.rowcount:  # type: ignore[attr-defined]
        session.add(SettingsVersion(id=VERSION_ROW, version=1))


def record(session: AsyncSession, *, ids: IdGenerator, actor_id: int, action: str, subject: str,
           old: Any, new: Any) -> None:
    session.add(AdminAction(id=ids.next_id(), actor_id=actor_id, action=action, subject=subject, old=old,
                            new=new, at=utcnow()))


async def set_value(*, services: Services, name: str, value: Any, admin_id: int) -> None:
    """Override ``name`` with ``value`` (checked against the catalogue), audited."""
    stored = catalogue.check(name, value, base=services.settings)
    async with services.db.session() as session:
        row = await session.get(SettingOverride, name, with_for_update=True)
        old = row.value if row is not None else catalogue.environment_value(name, services.settings)
        if row is None:
            session.add(SettingOverride(name=name, value=stored, updated_by=admin_id, updated_at=utcnow()))
        else:
            row.value, row.updated_by, row.updated_at = stored, admin_id, utcnow()
        await _bump(session)
        record(session, ids=services.ids, actor_id=admin_id, action="set", subject=name, old=old, new=stored)
    forget(services.db)


async def reset(*, services: Services, name: str, admin_id: int) -> None:
    """Drop the override of ``name``: the environment's value applies again. Resetting a
    setting that is not overridden changes nothing and records nothing."""
    catalogue.lookup(name)
    async with services.db.session() as session:
        row = await session.get(SettingOverride, name, with_for_update=True)
        if row is None:
            return
        old = row.value
        await session.delete(row)
        await _bump(session)
        record(session, ids=services.ids, actor_id=admin_id, action="reset", subject=name, old=old,
               new=catalogue.environment_value(name, services.settings))
    forget(services.db)


async def audit_page(*, db: Database, cursor: str | None, limit: int) -> tuple[list[AdminAction], str | None]:
    return await id_page(db, sa.select(AdminAction), AdminAction.id, cursor=cursor, limit=limit)
