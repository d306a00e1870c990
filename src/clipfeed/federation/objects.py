"""Remote objects that became local rows (a Note a comment, a Video a clip, a Like, an
Announce), found again by their URI when an ``Undo``, ``Update`` or ``Delete`` names them."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from clipfeed.accounts.models import User
from clipfeed.federation.models import RemoteObject
from clipfeed.infra.db import insert_ignore

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


def uri_digest(uri: str) -> bytes:
    return hashlib.sha256(uri.encode()).digest()


async def remember(document: dict[str, Any], kind: str, local_id: int, clip_id: int, *, sender: User,
                    services: Services) -> bool:
    uri = document.get("id")
    if not isinstance(uri, str):
        return True
    async with services.db.session() as session:
        return await insert_ignore(session, RemoteObject, {
            "uri_digest": uri_digest(uri), "uri": uri, "kind": kind, "local_id": local_id,
            "clip_id": clip_id, "actor_id": sender.id})


async def stored(uri: str, *, services: Services) -> RemoteObject | None:
    async with services.db.session() as session:
        return await session.scalar(sa.select(RemoteObject).where(
            RemoteObject.uri_digest == uri_digest(uri)))


async def follow_uri(follower_id: int, followee_id: int, *, services: Services) -> str | None:
    """The ID of the latest ``Follow`` a remote account sent of a local one, if it had one."""
    async with services.db.session() as session:
        return await session.scalar(sa.select(RemoteObject.uri).where(
            RemoteObject.kind == "follow", RemoteObject.local_id == followee_id, RemoteObject.actor_id == follower_id)
            .order_by(RemoteObject.created_at.desc()).limit(1))


async def uri_of(kind: str, local_id: int, *, services: Services) -> RemoteObject | None:
    """The remote object a local row stands for (a remote clip's ``Video``), if it is one."""
    async with services.db.session() as session:
        return await session.scalar(sa.select(RemoteObject).where(
            RemoteObject.kind == kind, RemoteObject.local_id == local_id).limit(1))
