"""Access-token checks through the cache port, so a request costs one cache read instead of a
metadata-store query (the token check was a quarter of a feed request's CPU on SQLite).

An entry maps a token digest (never the token) to a snapshot of its user's row without the
password hash, for ``TTL_S`` at most and never past the token's expiry. Anything that changes
who a token belongs to or what it may do (sign-out, a replayed refresh token, suspension,
deletion, role or profile changes) calls ``bypass``, and every process serving the API must
see it at once, including one that is not the process (or CLI command) making the change:

* A shared cache (Redis): the user's entries become a marker that sends their checks to the
  metadata store for ``2 × TTL_S``. Entries are written with "add if absent", so a check that
  read the store just before a change cannot put a stale snapshot back over the marker.
* A process-local cache over an SQLite store (the embedded stack, ``serve --processes N``,
  the CLI beside a server): those processes share the database file, not the cache, so a
  *generation* file beside the database counts changes (one byte appended per change; its
  size is the count, exact even for two changes in one clock tick). Every entry carries the
  generation read before the store was; an entry of an older generation is a miss. One
  ``stat`` per check (about a microsecond); a change costs each process one store read per
  token in use afterwards.
* A process-local cache over any other store (PostgreSQL with ``memory://``, possibly on
  several machines): nothing could reach the other processes in time, so tokens are not
  cached; every check reads the store.

Losing the cache only costs store queries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import sqlalchemy as sa

from clipfeed.accounts.models import AuthToken, User
from clipfeed.core.errors import Unavailable
from clipfeed.infra.cache import Cache
from clipfeed.infra.db import Database, detached, row_of, utcnow

TTL_S = 60.0
BYPASS = b"-"


def _key(digest: bytes) -> str:
    return f"auth:tok:{digest.hex()}"


def _encode(user: User, expires_at: datetime, generation: int) -> bytes:
    row = row_of(user)
    row["password_hash"] = None  # a password hash never leaves the metadata store
    return orjson.dumps({"user": row, "expires_at": expires_at, "g": generation})


def _decode(raw: bytes) -> tuple[User, datetime, int]:
    data = orjson.loads(raw)
    return detached(User, data["user"]), datetime.fromisoformat(data["expires_at"]), int(data.get("g", 0))


def _process_local(cache: Cache) -> bool:
    return cache.url.startswith("memory:")


def generation_file(db: Database) -> Path | None:
    """The file counting token changes beside an SQLite database file; None for other stores
    (and for an in-memory SQLite database, which no other process can open)."""
    if not db.is_sqlite:
        return None
    path = db.url.split("://", 1)[1].lstrip("/")
    if not path or path.startswith(":memory:"):
        return None
    return Path("/" + path.split("?", 1)[0]).with_suffix(".auth-generation")


def _generation(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _next_generation(path: Path) -> None:
    # O_APPEND: concurrent writers each add their byte; the size never goes back.
    with open(path, "ab") as counter:
        counter.write(b".")


@dataclass(frozen=True, slots=True)
class Found:
    """``entry`` is the cached user and token expiry, or None: then read the store, and keep
    what it says only when ``cacheable`` (with ``remember(..., found)``)."""

    entry: tuple[User, datetime] | None
    cacheable: bool
    generation: int = 0
    replace: bool = False  # an entry of an older generation is there: overwrite it


async def lookup(cache: Cache, db: Database, digest: bytes) -> Found:
    generation = 0
    if _process_local(cache):
        path = generation_file(db)
        if path is None:
            return Found(None, cacheable=False)
        generation = _generation(path)  # before the store is read: see remember()
    try:
        raw = await cache.get(_key(digest))
    except Unavailable:  # the cache is down: the store answers, and nothing is cached meanwhile
        return Found(None, cacheable=False, generation=generation)
    if raw is None:
        return Found(None, cacheable=True, generation=generation)
    if raw == BYPASS:
        return Found(None, cacheable=False, generation=generation)
    user, expires_at, cached_at = _decode(raw)
    if cached_at != generation:
        return Found(None, cacheable=True, generation=generation, replace=True)
    return Found((user, expires_at), cacheable=False, generation=generation)


async def remember(cache: Cache, digest: bytes, user: User, expires_at: datetime, found: Found) -> None:
    """Cache what the store said, tagged with the generation read *before* the store was: if
    a change came in between, the entry is already outdated when written, and the next check
    treats it as a miss."""
    left = (expires_at - utcnow()).total_seconds()
    if left <= 1:
        return
    value = _encode(user, expires_at, found.generation)
    try:
        if found.replace:
            await cache.set(_key(digest), value, ttl=min(TTL_S, left))
        else:
            await cache.add(_key(digest), value, ttl=min(TTL_S, left))
    except Unavailable:
        return  # the cache went away meanwhile: the next check asks the store again


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
    """Send the checks of a user's (or a session family's) tokens to the store from now on, in
    every process."""
    if _process_local(cache):
        path = generation_file(db)
        if path is not None:
            _next_generation(path)
    await bypass_digests(cache, await access_digests(db, user_id=user_id, family=family))
