"""``Idempotency-Key`` for write requests: a retried request gets the stored response instead
of doing the write twice.

A feature opts in per router: ``APIRouter(prefix="/v1", route_class=IdempotentRoute)``. For a
POST/PUT/PATCH/DELETE carrying the header from a signed-in user:

1. The key is *reserved* for (user, key) with a fingerprint of method, path, query and body.
2. The route runs; a success (status < 400) is stored with the reservation for
   ``CLIPFEED_IDEMPOTENCY_TTL_S`` (24 h). An error response is not stored and the reservation is
   released: a failed request changed nothing, so running it again is the right retry.
3. The same key again with the same request replays the stored status, body and
   ``Content-Type``/``Location`` headers with ``Idempotent-Replayed: true``; with a different
   request it is a 422; while the first is still running it is a 409 with ``Retry-After``.

Rows live in the sharded table ``idempotency_keys`` (shard key: the user ID). A process killed
between the write's commit and storing the response leaves a reservation that lapses after
``LEASE``; a retry after that runs the request again (PUT/DELETE are idempotent by themselves;
a POST may then create one more item).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.core.errors import BadRequest, Conflict, Invalid
from clipfeed.infra.db import Base, Database, UTCDateTime, utcnow

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A keyed request still running after this long is taken for dead: its key may be used again.
LEASE = timedelta(seconds=60)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_KEPT_HEADERS = ("content-type", "location")


class IdempotencyRecord(Base):
    """Sharded by ``user_id``."""

    __tablename__ = "idempotency_keys"
    __shard_key__ = "user_id"  # sharded: rows live on the database of this key's virtual shard
    __table_args__ = (sa.Index("ix_idempotency_keys_expires_at", "expires_at"),)

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)  # None: running
    response_body: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    response_headers: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class IdempotentRoute(APIRoute):
    """An ``APIRoute`` whose writes honour ``Idempotency-Key`` (see the module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if set(kwargs.get("methods") or ()) & UNSAFE:  # documented in OpenAPI with the route
            extra = dict(kwargs.get("openapi_extra") or {})
            extra["parameters"] = [*extra.get("parameters", []), {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "pattern": _KEY.pattern},
                "description": "repeat a write safely: the same key replays the first response for 24 h"}]
            kwargs["openapi_extra"] = extra
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if key is None or request.method not in UNSAFE:
                return await handler(request)
            return await _run_once(request, key, handler)

        return route


async def _run_once(request: Request, key: str, handler: Handler) -> Response:
    from clipfeed.accounts import service as accounts
    from clipfeed.http.deps import bearer_token

    if not _KEY.match(key):
        raise BadRequest("Idempotency-Key: 1 to 255 visible ASCII characters")
    token = bearer_token(request)
    if token is None:  # anonymous writes are not keyed; the route decides whether they are allowed
        return await handler(request)
    services = request.app.state.services
    user = await accounts.user_for_token(db=services.db, cache=services.cache, token=token)
    body = await request.body()  # cached by Starlette: the route reads the same bytes
    fingerprint = hashlib.sha256(b"\n".join([
        request.method.encode(), request.url.path.encode(), request.url.query.encode(), body])).hexdigest()
    stored = await _reserve(services.db, user.id, key, fingerprint, ttl=services.settings.idempotency_ttl_s)
    if stored is not None:
        return stored
    try:
        response = await handler(request)
    except Exception:  # cancelled: the reservation lapses after LEASE
        await _release(services.db, user.id, key)
        raise
    if response.status_code >= 400 or not hasattr(response, "body"):
        await _release(services.db, user.id, key)
        return response
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    async with services.db.shard_session(user.id) as session:
        await session.execute(sa.update(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user.id, IdempotencyRecord.key == key).values(
            status_code=response.status_code, response_body=bytes(response.body), response_headers=headers))
    return response


async def _reserve(db: Database, user_id: int, key: str, fingerprint: str, *, ttl: int) -> Response | None:
    """Reserve the key (None: go ahead) or return the stored response to replay."""
    for _attempt in range(3):
        now = utcnow()
        try:
            async with db.shard_session(user_id) as session:
                session.add(IdempotencyRecord(user_id=user_id, key=key, fingerprint=fingerprint, created_at=now,
                                              expires_at=now + timedelta(seconds=ttl), response_headers={}))
            return None
        except IntegrityError:
            pass
        async with db.shard_session(user_id) as session:
            row = await session.get(IdempotencyRecord, (user_id, key), with_for_update=True)
            if row is None:
                continue  # released meanwhile: try to reserve again
            if row.expires_at <= now or (row.status_code is None and row.created_at <= now - LEASE):
                await session.delete(row)  # expired, or its request died: start afresh
                continue
            if row.fingerprint != fingerprint:
                raise Invalid("this Idempotency-Key was already used with a different request")
            if row.status_code is None:
                raise Conflict("a request with this Idempotency-Key is still in progress",
                               headers={"Retry-After": "1"})
            return Response(content=row.response_body or b"", status_code=row.status_code,
                            headers={**row.response_headers, REPLAYED: "true"})
    raise Conflict("this Idempotency-Key is contended; retry", headers={"Retry-After": "1"})


async def _release(db: Database, user_id: int, key: str) -> None:
    async with db.shard_session(user_id) as session:
        await session.execute(sa.delete(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key,
            IdempotencyRecord.status_code.is_(None)))


async def purge_expired(*, db: Database) -> int:
    """Delete expired keys on every shard database; returns how many went."""
    removed = 0
    now = utcnow()
    for index in range(db.shard_count):
        async with db.shard_session_at(index) as session:
            result = await session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now))
            removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


async def purge_loop(stop: asyncio.Event, *, services: Services, every_s: float = 3600.0) -> None:
    """Lifecycle loop: drop expired keys once an hour."""
    while not stop.is_set():
        try:
            await purge_expired(db=services.db)
        except Exception as exc:  # the next round retries
            log.warning("idempotency.purge_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
