"""Invite codes: an admin creates one per person; registration on an invite-only instance
spends one. A code is spent by the same transaction that creates the account
(``claim`` inside ``accounts.service.register``), so a process that dies between checking the
code and committing leaves both undone: the code stays unused and no account exists."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.core.errors import BadRequest, Conflict, Forbidden, NotFound
from clipfeed.core.pagination import decode_cursor, keyset_page
from clipfeed.infra.db import Database, utcnow
from clipfeed.instance import service
from clipfeed.instance.models import Invite

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from clipfeed.runtime.services import Services

# 16 characters of a 32-letter alphabet without look-alikes (0/O, 1/I/L): 80 bits, typed by hand.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 16


def normalise(code: str) -> str:
    """What the person typed, as stored: case, spaces and dashes do not matter."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


async def create(*, services: Services, admin_id: int, note: str) -> Invite:
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    invite = Invite(code=code, note=note, created_by=admin_id, created_at=utcnow())
    async with services.db.session() as session:
        session.add(invite)
        service.record(session, ids=services.ids, actor_id=admin_id, action="invite_created", subject=code,
                       old=None, new={"note": note})
    return invite


async def revoke(*, services: Services, admin_id: int, code: str) -> None:
    async with services.db.session() as session:
        invite = await session.get(Invite, normalise(code), with_for_update=True)
        if invite is None:
            raise NotFound(f"no invite code {code}")
        if invite.used_at is not None:
            raise Conflict("this code was already used; it cannot be revoked")
        if invite.revoked_at is not None:
            return
        invite.revoked_at = utcnow()
        service.record(session, ids=services.ids, actor_id=admin_id, action="invite_revoked",
                       subject=invite.code, old="unused", new="revoked")


async def claim(session: AsyncSession, *, code: str | None, user_id: int) -> None:
    """Spend ``code`` for ``user_id`` in the caller's transaction, or refuse the sign-up. The
    conditional UPDATE makes two sign-ups racing for one code take it once: the second
    matches no row (or waits for the first's lock, then matches none)."""
    if not code or not normalise(code):
        raise Forbidden("this instance is invite-only: enter an invite code", reason="invite-required")
    spent = await session.execute(sa.update(Invite).where(
        Invite.code == normalise(code), Invite.used_at.is_(None), Invite.revoked_at.is_(None))
        .values(used_by=user_id, used_at=utcnow()))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise Forbidden("this invite code is not valid (unknown, already used or revoked)",
                        reason="invite-invalid")


async def page(db: Database, *, cursor: str | None, limit: int) -> tuple[list[Invite], str | None]:
    """Newest first, by keyset on (created_at, code): a code created while an admin pages is
    above their first page, never a repeat or a gap further down."""
    position = decode_cursor(cursor)
    query = sa.select(Invite).order_by(Invite.created_at.desc(), Invite.code.desc()).limit(limit + 1)
    if position:
        try:
            at, code = datetime.fromisoformat(str(position["at"])), str(position["code"])
        except (KeyError, ValueError) as exc:
            raise BadRequest("the cursor is not one this API handed out") from exc
        if at.tzinfo is None:
            raise BadRequest("the cursor is not one this API handed out")
        query = query.where(sa.or_(Invite.created_at < at, sa.and_(Invite.created_at == at, Invite.code < code)))
    async with db.session() as session:
        rows = list(await session.scalars(query))
    return keyset_page(rows, limit, lambda invite: {"at": invite.created_at.isoformat(), "code": invite.code})


async def get(db: Database, code: str) -> Invite | None:
    async with db.session() as session:
        return await session.get(Invite, normalise(code))
