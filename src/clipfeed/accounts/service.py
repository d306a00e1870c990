"""Account use cases. Every function takes its dependencies as keyword arguments."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.accounts import avatars, token_cache, tokens
from clipfeed.accounts.models import (
    HANDLE,
    REMOTE_HANDLE,
    AuthToken,
    ProfileUpdate,
    RegisterRequest,
    Role,
    TokenPair,
    User,
    UserPrivate,
    UserPublic,
)
from clipfeed.accounts.passwords import hash_password, needs_rehash, verify_password
from clipfeed.clips import service as clips_service
from clipfeed.core import contract
from clipfeed.core.errors import Conflict, Forbidden, NotFound, Unauthorized
from clipfeed.core.identifiers import parse_user_ref
from clipfeed.core.ids import IdGenerator
from clipfeed.core.text import scrub
from clipfeed.infra.blobs import BlobStore
from clipfeed.infra.cache import Cache
from clipfeed.infra.db import Database, insert_for, utcnow
from clipfeed.instance import invites
from clipfeed.runtime.outbox import Outbox
from clipfeed.runtime.ratelimit import RateLimiter
from clipfeed.settings import Settings


async def register(*, db: Database, outbox: Outbox, ids: IdGenerator, settings: Settings,
                   request: RegisterRequest, role: Role = Role.user, invite_only: bool = False) -> TokenPair:
    """A new account. ``invite_only``: the request's invite code is spent in the same
    transaction, so either both happen or neither does."""
    password_hash = await hash_password(request.password)
    user = User(id=ids.next_id(), handle=request.handle, email=request.email,
                display_name=request.display_name or request.handle, bio="",
                password_hash=password_hash, role=role.value, region=settings.region)
    try:
        async with db.session() as session:
            if invite_only:
                await invites.claim(session, code=request.invite_code, user_id=user.id)
            session.add(user)
            await session.flush()
            outbox.record(session, contract.USER_REGISTERED, key=user.id,
                          actor_id=user.id, payload=contract.UserRegistered(handle=user.handle))
            pair = await _issue(session, user=user, ids=ids, settings=settings)
    except IntegrityError as exc:
        raise Conflict("that handle or email is already taken") from exc
    return pair


async def login(*, db: Database, ids: IdGenerator, settings: Settings, limiter: RateLimiter, login: str,
                password: str) -> TokenPair:
    login = login.strip().lower()
    async with db.session() as session:
        column = User.email if "@" in login else User.handle
        user = await session.scalar(sa.select(User).where(column == login, User.deleted_at.is_(None)))
    # The per-account limit counts tries on the account, however it is named (handle or
    # e-mail, any case or padding); a name that matches nobody gets a bucket of its own, so
    # guessing unknown names is limited too and costs the same as guessing a real one.
    subject = f"user:{user.id}" if user is not None else f"name:{login}"
    await limiter.hit("login", subject, limit=settings.login_rate_per_minute, per_seconds=60, required=True)
    if not await verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("wrong login or password")
    if user.suspended_at is not None:
        raise Forbidden("this account is suspended")
    async with db.session() as session:
        if user.password_hash and needs_rehash(user.password_hash):
            stored = await session.get(User, user.id)
            if stored is not None:
                stored.password_hash = await hash_password(password)
        return await _issue(session, user=user, ids=ids, settings=settings)


async def refresh(*, db: Database, cache: Cache, ids: IdGenerator, settings: Settings,
                  refresh_token: str) -> TokenPair:
    now = utcnow()
    async with db.session() as session:
        row = await session.get(AuthToken, tokens.digest(refresh_token), with_for_update=True)
        if row is None or row.kind != "refresh" or row.revoked_at is not None:
            raise Unauthorized("invalid refresh token")
        replayed = row.used_at is not None
        if replayed:
            await token_cache.bypass(cache, db, family=row.family)
            # A refresh token works once. Seeing it again means someone else holds a copy:
            # end every session of that family, the thief's and the owner's alike.
            await _revoke_family(session, row.family)
        else:
            if row.expires_at <= now:
                raise Unauthorized("refresh token expired; sign in again")
            row.used_at = now
            user = await session.get(User, row.user_id)
            if user is None or user.deleted_at is not None:
                raise Unauthorized("account no longer exists")
            return await _issue(session, user=user, ids=ids, settings=settings, family=row.family)
    raise Unauthorized("refresh token already used; signed out everywhere for safety")


async def logout(*, db: Database, cache: Cache, token: str) -> None:
    """Ends the session the token belongs to: its access and refresh tokens."""
    async with db.session() as session:
        row = await session.get(AuthToken, tokens.digest(token))
        if row is not None:
            await token_cache.bypass(cache, db, family=row.family)
            await _revoke_family(session, row.family)


async def user_for_token(*, db: Database, cache: Cache, token: str) -> User:
    """The user a live access token belongs to (through ``token_cache``), or 401."""
    now, digest = utcnow(), tokens.digest(token)
    found = await token_cache.lookup(cache, db, digest)
    if found.entry is not None:
        user, expires_at = found.entry
    else:
        user, expires_at = await _user_for_digest(db, digest)
        if found.cacheable:
            await token_cache.remember(cache, digest, user, expires_at, found)
    if expires_at <= now:
        raise Unauthorized("access token expired; use your refresh token",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return user


# Built once, the digest a parameter: every signed-in request whose token is not cached runs it,
# and building a statement and its cache key costs about as much as running it on SQLite.
_TOKEN_OWNER = (sa.select(User, AuthToken.expires_at).join(AuthToken, AuthToken.user_id == User.id).where(
    AuthToken.digest == sa.bindparam("digest", type_=AuthToken.digest.type), AuthToken.kind == "access",
    AuthToken.revoked_at.is_(None), User.deleted_at.is_(None), User.suspended_at.is_(None)))


async def _user_for_digest(db: Database, digest: bytes) -> tuple[User, datetime]:
    # On a page that tolerates stale reads a replica may answer, within its bound for who may
    # act (``read_session(access=True)``): a region whose link to the primary is cut still
    # serves its signed-in readers. Writes, and every other route, check on the primary.
    async with db.read_session(access=True) as session:
        found = (await session.execute(_TOKEN_OWNER, {"digest": digest})).first()
    if found is None:
        raise Unauthorized("invalid or revoked access token",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    user, expires_at = found
    return user, expires_at


async def get_by_handle(*, db: Database, handle: str) -> User:
    """An active account by handle: ours (``alice``) or another server's (``alice@host``)."""
    if not HANDLE.match(handle.lower()) and not REMOTE_HANDLE.match(handle.lower()):
        # No account has such a handle; and the database is not asked (PostgreSQL refuses a
        # NUL in a query parameter with an error, not with "no rows").
        raise NotFound(f"no user @{handle[:40]!r}")
    async with db.read_session() as session:
        user = await session.scalar(sa.select(User).where(User.handle == handle.lower(),
                                                          User.deleted_at.is_(None), User.suspended_at.is_(None)))
    if user is None:
        raise NotFound(f"no user @{handle}")
    return user


async def get_by_ref(*, db: Database, ref: str) -> User:
    """An active account by ID (digits) or handle (``@`` optional): one rule for every route
    that names a user (``core.identifiers.parse_user_ref``)."""
    try:
        parsed = parse_user_ref(ref)
    except ValueError:
        raise NotFound(f"no user {ref[:40]!r}") from None
    if isinstance(parsed, str):
        return await get_by_handle(db=db, handle=parsed)
    user = (await get_many(db=db, user_ids=[parsed])).get(parsed)
    if user is None or user.deleted_at is not None or user.suspended_at is not None:
        raise NotFound(f"no user {parsed}")
    return user


async def find_by_handle_any_state(*, db: Database, handle: str) -> User | None:
    """The account with this handle even when suspended or deleted (moderation needs those)."""
    if not HANDLE.match(handle.lower()):
        return None
    async with db.session() as session:
        return await session.scalar(sa.select(User).where(User.handle == handle.lower()))


async def get_many(*, db: Database, user_ids: list[int]) -> dict[int, User]:
    if not user_ids:
        return {}
    async with db.read_session() as session:
        rows = await session.scalars(sa.select(User).where(User.id.in_(set(user_ids))))
        return {u.id: u for u in rows}


async def update_profile(*, db: Database, cache: Cache, outbox: Outbox, user: User, update: ProfileUpdate) -> User:
    changes = update.model_dump(exclude_unset=True, exclude_none=True)
    await token_cache.bypass(cache, db, user_id=user.id)
    try:
        async with db.session() as session:
            stored = await session.get(User, user.id)
            if stored is None:
                raise NotFound("account no longer exists")
            for field, value in changes.items():
                setattr(stored, field, value)
            outbox.record(session, contract.USER_UPDATED, key=user.id, actor_id=user.id,
                          payload=contract.UserUpdated(fields=sorted(changes)))
    except IntegrityError as exc:
        raise Conflict("that handle is already taken") from exc
    return stored


async def set_avatar(*, db: Database, cache: Cache, blobs: BlobStore, settings: Settings, user: User,
                     data: bytes) -> User:
    key = await avatars.store(blobs=blobs, settings=settings, user_id=user.id, data=data)
    await token_cache.bypass(cache, db, user_id=user.id)
    async with db.session() as session:
        stored = await session.get(User, user.id)
        if stored is None:
            raise NotFound("account no longer exists")
        old, stored.avatar_key = stored.avatar_key, key
    if old and old != key:
        await blobs.delete(old)
    return stored


async def delete_account(*, db: Database, cache: Cache, blobs: BlobStore, outbox: Outbox, user: User,
                         password: str) -> None:
    """Anonymises the account and removes what identifies the person: profile, avatar,
    e-mail, sessions and clips. Other features drop their rows on the ``user.deleted`` event.
    If the process dies midway, the transaction rolls back and the user can simply retry;
    blobs are removed only after the commit, and a leftover is collected by the lifecycle job."""
    async with db.session() as session:
        stored = await session.get(User, user.id)
        password_hash = stored.password_hash if stored is not None else None
    if not await verify_password(password_hash, password):
        raise Forbidden("wrong password")
    await token_cache.bypass(cache, db, user_id=user.id)
    async with db.session() as session:
        stored = await session.get(User, user.id, with_for_update=True)
        if stored is None or stored.deleted_at is not None:
            raise NotFound("account no longer exists")
        avatar = stored.avatar_key
        stored.handle = f"deleted.{stored.id}"[:30]
        stored.email = None
        stored.display_name = ""
        stored.bio = ""
        stored.avatar_key = None
        stored.password_hash = None
        stored.deleted_at = utcnow()
        await session.execute(sa.delete(AuthToken).where(AuthToken.user_id == user.id))
        clip_ids = await clips_service.delete_all_of_owner(session=session, outbox=outbox,
                                                           owner_id=user.id)
        outbox.record(session, contract.USER_DELETED, key=user.id, actor_id=user.id,
                      payload=contract.UserDeleted(clip_ids=list(clip_ids)))
    if avatar:
        await blobs.delete(avatar)
    for clip_id in clip_ids:
        await clips_service.remove_media(blobs=blobs, clip_id=clip_id)


async def set_suspended(*, db: Database, cache: Cache, outbox: Outbox, user_id: int, suspended: bool,
                        reason: str) -> None:
    """Suspend (sign out everywhere, hide the profile, refuse sign-in) or lift a suspension.
    Idempotent, so a moderation decision can be re-applied safely."""
    await token_cache.bypass(cache, db, user_id=user_id)
    async with db.session() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None or user.deleted_at is not None:
            return
        if suspended and user.suspended_at is None:
            user.suspended_at = utcnow()
            await session.execute(sa.update(AuthToken).where(AuthToken.user_id == user_id,
                                                             AuthToken.revoked_at.is_(None))
                                  .values(revoked_at=utcnow()))
            outbox.record(session, contract.USER_SUSPENDED, key=user_id, payload=contract.UserStanding(reason=reason))
        elif not suspended and user.suspended_at is not None:
            user.suspended_at = None
            outbox.record(session, contract.USER_REINSTATED, key=user_id, payload=contract.UserStanding(reason=reason))


async def create_user(*, db: Database, outbox: Outbox, ids: IdGenerator, settings: Settings,
                      handle: str, email: str, password: str, role: Role = Role.user) -> User:
    pair = await register(db=db, outbox=outbox, ids=ids, settings=settings, role=role,
                          request=RegisterRequest(handle=handle, email=email, password=password))
    return await get_by_handle(db=db, handle=pair.user.handle)


async def upsert_remote(session: AsyncSession, *, ids: IdGenerator, user_id: int | None, name: str, domain: str,
                        display_name: str, bio: str) -> User:
    """The ``users`` row standing for an account of another server (federation), created or
    refreshed in ``session``. Its handle is ``name@domain``; it has no email or password, so it
    never signs in here, and it is never suspended or deleted by this call."""
    handle = f"{name.lower()}@{domain.lower()}"[:255]
    user = await session.get(User, user_id) if user_id is not None else None
    if user is None:
        user = await session.scalar(sa.select(User).where(User.handle == handle))
    if user is None:
        # Two first sightings of one account at once (a new server's first burst of signed
        # requests) both get here: the second's insert does nothing, and it reads the first's row.
        await session.execute(insert_for(session, User).values(
            id=ids.next_id(), handle=handle, email=None, password_hash=None, role=Role.user.value,
            domain=domain.lower()).on_conflict_do_nothing(index_elements=["handle"]))
        user = await session.scalar(sa.select(User).where(User.handle == handle))
        if user is None:  # the handle belongs to no user yet cannot be inserted: never expected
            raise Conflict(f"the account {handle} could not be stored")
    user.handle = handle
    user.display_name = scrub(display_name, multiline=False, limit=60)
    user.bio = scrub(bio, multiline=True, limit=300)
    await session.flush()
    return user


async def set_role(*, db: Database, cache: Cache, handle: str, role: Role) -> User:
    async with db.session() as session:
        user = await session.scalar(sa.select(User).where(User.handle == handle.lower(),
                                                          User.deleted_at.is_(None)))
        if user is None:
            raise NotFound(f"no user @{handle}")
        await token_cache.bypass(cache, db, user_id=user.id)
        user.role = role.value
    return user


# --- helpers -----------------------------------------------------------------------------

async def _issue(session: AsyncSession, *, user: User, ids: IdGenerator, settings: Settings,
                 family: int | None = None) -> TokenPair:
    now = utcnow()
    family = family or ids.next_id()
    access, refresh_token = tokens.new_token(), tokens.new_token()
    session.add_all([
        AuthToken(digest=tokens.digest(access), user_id=user.id, kind="access", family=family,
                  created_at=now, expires_at=now + timedelta(seconds=settings.access_token_ttl_s)),
        AuthToken(digest=tokens.digest(refresh_token), user_id=user.id, kind="refresh", family=family,
                  created_at=now, expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s)),
    ])
    return TokenPair(access_token=access, expires_in=settings.access_token_ttl_s,
                     refresh_token=refresh_token, refresh_expires_in=settings.refresh_token_ttl_s,
                     user=private_view(user, settings=settings))


async def _revoke_family(session: AsyncSession, family: int) -> None:
    await session.execute(sa.update(AuthToken).where(AuthToken.family == family,
                                                     AuthToken.revoked_at.is_(None))
                          .values(revoked_at=utcnow()))


def avatar_url(user: User, *, settings: Settings) -> str | None:
    if not user.avatar_key:
        return None
    return f"/v1/users/{user.handle}/avatar?v={user.avatar_key.rsplit('/', 1)[-1].split('.')[0]}"


def public_view(user: User, *, settings: Settings) -> UserPublic:
    return UserPublic(id=str(user.id), handle=user.handle, display_name=user.display_name,
                      bio=user.bio, avatar_url=avatar_url(user, settings=settings),
                      created_at=user.created_at)


def private_view(user: User, *, settings: Settings) -> UserPrivate:
    return UserPrivate(**public_view(user, settings=settings).model_dump(), email=user.email,
                       role=Role(user.role), language=user.language)


async def count_local(*, db: Database) -> int:
    """Accounts of this server that are neither deleted nor suspended (NodeInfo's user count)."""
    async with db.session() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(User).where(
            User.domain.is_(None), User.deleted_at.is_(None), User.suspended_at.is_(None))) or 0)
