"""Local actors' signing keys: made on first use, kept in ``federation_keys``, loaded once per
process: a fan-out signs thousands of requests, concurrently, with one key."""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from clipfeed.federation.documents import Uris
from clipfeed.federation.models import INSTANCE_ACTOR, ActorKey
from clipfeed.federation.signatures import generate_key_pair, load_private_key
from clipfeed.infra.db import insert_ignore

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

_LOADED: dict[tuple[int, int], tuple[float, Signer]] = {}  # (id of the Database, owner) -> (loaded at, signer)
_LOADING: dict[tuple[int, int], asyncio.Task[Signer]] = {}  # loads under way, shared by their waiters
_LOADED_MAX = 10_000
# A key rotated by another process (``clipfeed federation rotate-key``) is picked up within this
# long; a delivery refused with 401 meanwhile drops the entry at once and is retried (``forget``).
LOADED_TTL_S = 60.0


@dataclass(frozen=True)
class Signer:
    key_id: str
    private_key: RSAPrivateKey
    public_pem: str


async def signer_for(owner_id: int, *, services: Services) -> Signer:
    """The key ``owner_id`` (a local user, or ``INSTANCE_ACTOR``) signs with.

    Concurrent callers that miss share one load (a delivery loop starts 32 sends at once),
    and a reload after ``LOADED_TTL_S`` that finds the same PEM keeps the parsed key."""
    cache_key = (id(services.db), owner_id)
    found = _LOADED.get(cache_key)
    if found is not None and time.monotonic() - found[0] < LOADED_TTL_S:
        return found[1]
    loading = _LOADING.get(cache_key)
    if loading is None or loading.done() or loading.get_loop() is not asyncio.get_running_loop():
        loading = _LOADING[cache_key] = asyncio.ensure_future(_load(owner_id, cache_key, services=services))
        loading.add_done_callback(functools.partial(_loaded, cache_key))
    # Shielded: a caller cancelled while waiting does not cancel the load the others wait for.
    return await asyncio.shield(loading)


async def _load(owner_id: int, cache_key: tuple[int, int], *, services: Services) -> Signer:
    loading_since = time.monotonic()
    key = await _stored_or_new(owner_id, services=services)
    before = _LOADED.get(cache_key)
    if before is not None and before[1].public_pem == key.public_pem:
        signer = before[1]
    else:
        uris = Uris(services.settings.base_url)
        signer = Signer(key_id=uris.instance_key if owner_id == INSTANCE_ACTOR else uris.key(owner_id),
                        private_key=load_private_key(key.private_pem), public_pem=key.public_pem)
    if len(_LOADED) >= _LOADED_MAX:
        _LOADED.pop(next(iter(_LOADED)))
    # Dated from before the read: a rotation committed while it ran is picked up within the TTL.
    _LOADED[cache_key] = (loading_since, signer)
    return signer


def _loaded(cache_key: tuple[int, int], task: asyncio.Task[Signer]) -> None:
    if _LOADING.get(cache_key) is task:
        del _LOADING[cache_key]
    if not task.cancelled():
        task.exception()  # retrieved: every waiter may have gone


def forget(owner_id: int, *, services: Services) -> None:
    """Drop this process's copy of a key (it may have been rotated elsewhere)."""
    _LOADED.pop((id(services.db), owner_id), None)


async def public_pem(owner_id: int, *, services: Services) -> str:
    return (await _stored_or_new(owner_id, services=services)).public_pem


async def _stored_or_new(owner_id: int, *, services: Services) -> ActorKey:
    async with services.db.session() as session:
        key = await session.get(ActorKey, owner_id)
    if key is not None:
        return key
    private, public = generate_key_pair()
    # Two processes may make one at once: the first insert wins and both read it back.
    async with services.db.session() as session:
        await insert_ignore(session, ActorKey, {"owner_id": owner_id, "private_pem": private,
                                                "public_pem": public})
    async with services.db.session() as session:
        stored = await session.get(ActorKey, owner_id)
    assert stored is not None
    return stored


async def rotate(owner_id: int, *, services: Services) -> str:
    """A new key pair for ``owner_id``; the old one stops signing at once in this process and
    within the refresh of others (``_LOADED`` is per process). Returns the new public key.
    Other servers learn it from the ``Update`` of the actor the caller sends, or when a
    signature fails against the key they hold and they fetch the actor again."""
    private, public = generate_key_pair()
    async with services.db.session() as session:
        key = await session.get(ActorKey, owner_id, with_for_update=True)
        if key is None:
            session.add(ActorKey(owner_id=owner_id, private_pem=private, public_pem=public))
        else:
            key.private_pem, key.public_pem = private, public
    forget(owner_id, services=services)
    return public
