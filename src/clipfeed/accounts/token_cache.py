"""Access-token checks through the cache port, so a request costs one cache read instead of a
metadata-store query (the token check was a quarter of a feed request's CPU on SQLite).

An entry maps a token digest (never the token) to a snapshot of its user's row without the
password hash, for ``TTL_S`` at most and never past the token's expiry. Anything that changes
who a token belongs to or what it may do (sign-out, a replayed refresh token, suspension,
deletion, role or profile changes) calls ``bypass``: the user's entries become a marker that
sends their checks to the metadata store for ``2 × TTL_S``. Entries are written with
"add if absent", so a check that read the store just before a change cannot put a stale
snapshot back over the marker. Losing the cache only costs store queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
import sqlalchemy as sa

from clipfeed.accounts.models import AuthToken, User
from clipfeed.infra.cache import Cache
from clipfeed.infra.db import Database, detached, row_of, utcnow

TTL_S = 60.0
BYPASS = b"-"


def _key(digest: bytes) -> str:
    return f"auth:tok:{digest.hex()}"


def _encode(user: User, expires_at: datetime) -> bytes:
    row = row_of(user)
    row["password_hash"] = None  # a password hash never leaves the metadata store
    return orjson.dumps({"user": row, "expires_at": expires_at})


def _decode(raw: bytes) -> tuple[User, datetime]:
    data = orjson.loads(raw)
    return detached(User, data["user"]), datetime.fromisoformat(data["expires_at"])


@dataclass(frozen=True, slots=True)
class Found:
    """``entry`` is the cached user and token expiry, or None: then read the store, and keep
    what it says only when ``cacheable``."""

    entry: tuple[User, datetime] | None
    cacheable: bool


async def lookup(cache: Cache, digest: bytes) -> Found:
    raw = await cache.get(_key(digest))
    if raw is None:
        return Found(None, cacheable=True)
    if raw == BYPASS:
        return Found(None, cacheable=False)
    return Found(_decode(raw), cacheable=False)


async def remember(cache: Cache, digest: bytes, user: User, expires_at: datetime) -> None:
    left = (expires_at - utcnow()).total_seconds()
    if left > 1:
        await cache.add(_key(digest), _encode(user, expires_at), ttl=min(TTL_S, left))


async def bypass_digests(cache: Cache, digests: list[bytes]) -> None:
    if digests:
        await cache.set_many({_key(d): BYPASS for d in digests}, ttl=2 * TTL_S)


async def access_digests(db: Database, *, user_id: int | None = None, family: int | None = None) -> list[bytes]:
    """Digests of the live access tokens of a user or of one session family."""
    query = sa.select(AuthToken.digest).where(AuthToken.kind == "access", AuthToken.expires_at > utcnow())
    if user_id is not None:
        query = query.where(AuthToken.user_id == user_id)
    if family is not None:
        query = query.where(AuthToken.family == family)
    async with db.session() as session:
        return list(await session.scalars(query))


async def bypass(cache: Cache, db: Database, *, user_id: int | None = None, family: int | None = None) -> None:
    """Send the checks of a user's (or a session family's) tokens to the store from now on."""
    await bypass_digests(cache, await access_digests(db, user_id=user_id, family=family))
