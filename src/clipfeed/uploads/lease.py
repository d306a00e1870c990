"""One request at a time per upload: a lease in the upload's row.

A request that writes bytes or hands an upload off first takes the lease (an atomic conditional
UPDATE) and renews it while bytes flow. Another request for the same upload then gets 423 with
``Retry-After`` (tus clients retry 423), except in two cases where waiting would only delay a
client that has simply reconnected:

* the holder is a request of *this* process (its client's connection dropped and the server has
  not noticed yet): it is cancelled at once, keeps what it durably stored, and hands over;
* the holder was a process on this host that no longer exists (killed): the lease is stale.

Otherwise a lease whose holder died (another host) lapses after ``upload_lease_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from datetime import timedelta

import sqlalchemy as sa

from clipfeed.infra.db import Database, utcnow
from clipfeed.uploads.models import Upload
from clipfeed.uploads.protocol import Locked

HOST = socket.gethostname()[:60]
PROCESS = f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"
# Requests of this process holding a lease: upload ID → (lease token, task to cancel).
_holders: dict[int, tuple[str, asyncio.Task[object]]] = {}
_live_tokens: set[str] = set()  # tokens of this process that may be in a row (taken or being taken)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(owner: str) -> bool:
    """True when ``owner`` belonged to a process on this host that is gone (or to us, unregistered)."""
    host, _, rest = owner.partition(":")
    pid_text, _, rest = rest.partition(":")
    nonce = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return f"{HOST}:{pid}:{nonce}" != PROCESS or owner not in _live_tokens
    return not _pid_alive(pid)


async def _try_take(db: Database, upload_id: int, token: str, lease_s: float,
                    *, replacing: str | None = None) -> bool:
    now = utcnow()
    free = (Upload.lease_owner == replacing if replacing is not None
            else sa.or_(Upload.lease_owner.is_(None), Upload.lease_until < now))
    async with db.session() as session:
        result = await session.execute(sa.update(Upload).where(Upload.id == upload_id, free).values(
            lease_owner=token, lease_until=now + timedelta(seconds=lease_s)))
    return bool(getattr(result, "rowcount", 0) == 1)


async def acquire(db: Database, upload_id: int, *, lease_s: float, take_over: bool = True,
                  wait_s: float = 5.0) -> str:
    """Take the upload's lease and return its token; ``Locked`` (423) when another live request
    holds it. Register the task doing the work with ``hand_to`` so a newer request can take over."""
    token = f"{PROCESS}:{secrets.token_hex(4)}"
    _live_tokens.add(token)
    try:
        return await _acquire(db, upload_id, token, lease_s=lease_s, take_over=take_over, wait_s=wait_s)
    except BaseException:
        _live_tokens.discard(token)
        raise


async def _acquire(db: Database, upload_id: int, token: str, *, lease_s: float, take_over: bool,
                   wait_s: float) -> str:
    for _ in range(3):
        if await _try_take(db, upload_id, token, lease_s):
            break
        async with db.session() as session:
            held = (await session.execute(sa.select(Upload.lease_owner, Upload.lease_until).where(
                Upload.id == upload_id))).first()
        if held is None or held.lease_owner is None:
            continue  # released meanwhile: try again
        local = _holders.get(upload_id)
        if take_over and local is not None and local[0] == held.lease_owner:
            local[1].cancel()  # an older request of ours, most likely on a dead connection
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(local[1]), wait_s)
            continue
        if is_stale(held.lease_owner) and await _try_take(db, upload_id, token, lease_s,
                                                          replacing=held.lease_owner):
            break
        left = (held.lease_until - utcnow()).total_seconds() if held.lease_until else 1
        raise Locked("another request is writing to this upload; retry shortly",
                     headers={"Retry-After": str(max(1, int(left) + 1))})
    else:
        raise Locked("this upload is busy; retry shortly", headers={"Retry-After": "1"})
    return token


def hand_to(upload_id: int, token: str, task: asyncio.Task[object]) -> None:
    """Register the task that a newer request may cancel to take this lease over."""
    _holders[upload_id] = (token, task)


async def renew(db: Database, upload_id: int, token: str, *, lease_s: float) -> bool:
    """Extend the lease; False if it was lost (a new request took it over)."""
    async with db.session() as session:
        result = await session.execute(sa.update(Upload).where(
            Upload.id == upload_id, Upload.lease_owner == token).values(
            lease_until=utcnow() + timedelta(seconds=lease_s)))
    return bool(getattr(result, "rowcount", 0) == 1)


async def release(db: Database, upload_id: int, token: str) -> None:
    if _holders.get(upload_id, ("",))[0] == token:
        del _holders[upload_id]
    _live_tokens.discard(token)
    async with db.session() as session:
        await session.execute(sa.update(Upload).where(
            Upload.id == upload_id, Upload.lease_owner == token).values(lease_owner=None, lease_until=None))
