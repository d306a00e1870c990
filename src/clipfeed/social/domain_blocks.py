"""Blocks of whole servers ("block domain"): a user blocks every account of another server at
once, the accounts known now and those met later.

The block is one ``user_domain_blocks`` row, and every reader of blocks reads those rows too
(``graph``, ``access``): the server's accounts vanish from the user's feeds, search, clip pages,
comments, notifications and follower lists, the user vanishes from theirs, and none of them can
follow the user (a ``Follow`` from there is refused, and answered with a ``Reject``).

Blocking also drops the follows between the user and that server's accounts, both ways (with
their counts and ``follow.removed`` events; deliveries of the user's posts go to followers, so
nothing more reaches that server), in the same transaction as the row and its
``user.domain_blocked`` event. A process killed half-way has done none of it, and the client
repeats the request: blocking and unblocking are idempotent. Unblocking brings visibility back,
not the follows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.accounts.models import User
from clipfeed.core import contract
from clipfeed.core.errors import Conflict, Invalid
from clipfeed.core.pagination import decode_cursor
from clipfeed.infra.db import insert_ignore, utcnow
from clipfeed.social import blocks, events, graph
from clipfeed.social.models import Follow, UserDomainBlock
from clipfeed.social.paging import cursor_int, keyset_page
from clipfeed.social.schemas import BlockedServer, BlockedServerPage, ServerBlockState

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

MAX_DOMAIN_BLOCKS = 1000
# A host name label by label (letters, digits, inner hyphens), as federation names servers.
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_DEFAULT_PORTS = {"https": 443, "http": 80}


def server_name(text: str, *, field: tuple[str, ...] = ("body", "domain")) -> str:
    """``text`` as this server names another one (``users.domain``): the host in lower case, an
    international name in its IDNA ASCII form, and the port only when it is not the default.
    ``text`` may be the bare name (``video.example``, ``video.example:8443``), an address on
    that server (``https://video.example/@alice``) or a handle (``alice@video.example``); anything
    else is ``Invalid``, naming ``field``."""

    def invalid(why: str) -> Invalid:
        return Invalid(f"{text[:100]!r} {why}", errors=[{"location": list(field), "message": why,
                                                          "type": "value_error"}])

    given = text.strip()
    if not given:
        raise invalid("is empty: give a server's name, such as video.example")
    try:
        parts = urlsplit(given if "://" in given else "//" + given.lstrip("@"))
        port = parts.port
    except ValueError as exc:
        raise invalid("is not a server's name (its port or address cannot be read)") from exc
    scheme = parts.scheme.lower() or "https"
    if scheme not in _DEFAULT_PORTS:
        raise invalid("is not a server's name (only http and https addresses name one)")
    host = (parts.hostname or "").removesuffix(".")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise invalid("is not a server's name (a part of it is empty or too long)") from exc
    if not host or not _HOST.match(host):
        raise invalid("is not a server's name: letters, digits, hyphens and dots, such as video.example")
    name = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if len(name) > 255:
        raise invalid("is too long for a server's name (255 characters at most)")
    return name


async def block_domain(*, services: Services, user: User, domain: str) -> ServerBlockState:
    """Block every account of ``domain`` for ``user``: idempotent, at most ``MAX_DOMAIN_BLOCKS``
    servers per user (409 beyond), never this server itself (422)."""
    server = server_name(domain)
    if server == _own_name(services.settings.base_url):
        raise Invalid(f"{server} is this server: block its accounts one by one instead",
                      errors=[{"location": ["body", "domain"], "message": "this is this server's own name",
                               "type": "value_error"}])
    async with services.db.session() as session:
        await _lock(session, user.id, server)
        if await session.get(UserDomainBlock, (user.id, server)) is None:
            count = await session.scalar(sa.select(sa.func.count()).select_from(UserDomainBlock)
                                         .where(UserDomainBlock.user_id == user.id))
            if int(count or 0) >= MAX_DOMAIN_BLOCKS:
                raise Conflict(f"you block {MAX_DOMAIN_BLOCKS} servers already: unblock one first")
        if await insert_ignore(session, UserDomainBlock, {"user_id": user.id, "domain": server,
                                                          "id": services.ids.next_id(), "created_at": utcnow()}):
            events.record(session, contract.DOMAIN_BLOCK_ADDED, key=user.id, actor_id=user.id,
                          payload=contract.DomainBlockChanged(user_id=user.id, domain=server), services=services)
        for follower, followee in await _follows_with(session, user.id, server):
            await graph.remove_follow(session, follower, followee, services=services, ended_by=user.id)
    await blocks.feeds_reread_blocks(user.id, services=services)
    return ServerBlockState(domain=server, blocking=True)


async def unblock_domain(*, services: Services, user: User, domain: str) -> ServerBlockState:
    server = server_name(domain, field=("path", "domain"))
    async with services.db.session() as session:
        result = await session.execute(sa.delete(UserDomainBlock).where(UserDomainBlock.user_id == user.id,
                                                                        UserDomainBlock.domain == server))
        if getattr(result, "rowcount", 0):
            events.record(session, contract.DOMAIN_BLOCK_REMOVED, key=user.id, actor_id=user.id,
                          payload=contract.DomainBlockChanged(user_id=user.id, domain=server), services=services)
    await blocks.feeds_reread_blocks(user.id, services=services)
    return ServerBlockState(domain=server, blocking=False)


async def domain_block_state(*, services: Services, user: User, domain: str) -> ServerBlockState:
    server = server_name(domain, field=("path", "domain"))
    async with services.db.read_session() as session:
        found = await session.get(UserDomainBlock, (user.id, server))
    return ServerBlockState(domain=server, blocking=found is not None)


async def list_blocked_domains(*, services: Services, user: User, cursor: str | None,
                               limit: int) -> BlockedServerPage:
    """The servers ``user`` blocks, the latest first."""
    position = decode_cursor(cursor)
    query = sa.select(UserDomainBlock.id, UserDomainBlock.domain, UserDomainBlock.created_at).where(
        UserDomainBlock.user_id == user.id)
    if "before" in position:
        query = query.where(UserDomainBlock.id < cursor_int(position, "before"))
    async with services.db.read_session() as session:
        rows = (await session.execute(query.order_by(UserDomainBlock.id.desc()).limit(limit + 1))).all()
    rows, next_cursor = keyset_page(rows, limit, lambda r: {"before": str(r[0])})
    return BlockedServerPage(items=[BlockedServer(domain=domain, since=since) for _, domain, since in rows],
                             next_cursor=next_cursor)


def _own_name(base_url: str) -> str | None:
    """This server's name as it would be written for another (None if its address names none)."""
    try:
        return server_name(base_url)
    except Invalid:
        return None


async def _lock(session: AsyncSession, user_id: int, server: str) -> None:
    """Lock the counter rows of the user and of every account of ``server`` they follow or are
    followed by, in ID order (as a follow of one pair does): no follow between them can slip in
    beside the block, and this user's blocks are counted one request at a time."""
    partners = {other for pair in await _follows_with(session, user_id, server) for other in pair}
    await graph.bump_counts(session, {person: (0, 0) for person in {user_id, *partners}})


async def _follows_with(session: AsyncSession, user_id: int, server: str) -> list[tuple[int, int]]:
    """(follower, followee) of the follows between ``user_id`` and accounts of ``server``."""
    accounts = sa.select(User.id).where(User.domain == server)
    rows = await session.execute(sa.select(Follow.follower_id, Follow.followee_id).where(sa.or_(
        sa.and_(Follow.follower_id == user_id, Follow.followee_id.in_(accounts)),
        sa.and_(Follow.followee_id == user_id, Follow.follower_id.in_(accounts)))))
    return [(int(follower), int(followee)) for follower, followee in rows]
