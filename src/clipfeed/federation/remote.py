"""Accounts of other servers: fetched by URI, by key ID (to check a signature) or by
``name@host`` (WebFinger), and kept as a ``users`` row plus a ``federation_actors`` row."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.accounts import service as accounts
from clipfeed.core.errors import NotFound
from clipfeed.federation import admin, transport
from clipfeed.federation.keys import signer_for
from clipfeed.federation.models import INSTANCE_ACTOR, RemoteActor, RemoteInstance
from clipfeed.federation.transport import RemoteError
from clipfeed.infra.db import Database, insert_for, insert_ignore, utcnow

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
ACTOR_TYPES = {"Person", "Service", "Application", "Group", "Organization"}
# The actors behind the keys that signed our inbound activities, per process (least recently
# used first), so the inbox reads the database only for a key it has not seen lately. A copy
# older than the stored row is noticed when a signature fails against it (``inbox.verified_sender``
# reads the row again); ``federation_actor_refresh_s`` still applies to the copy's fetch time.
KEYS_TTL_S = 300.0
KEYS_MAX = 20_000
_KEYS: weakref.WeakKeyDictionary[Database, OrderedDict[str, tuple[float, RemoteActor]]] = weakref.WeakKeyDictionary()
_FETCHING: weakref.WeakKeyDictionary[Database, dict[str, asyncio.Future[RemoteActor]]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ActorDocument:
    uri: str
    name: str
    domain: str
    display_name: str
    bio: str
    inbox: str
    shared_inbox: str | None
    key_id: str
    public_pem: str
    kind: str
    url: str | None


def domain_of(uri: str) -> str:
    return (urlsplit(uri).hostname or "").lower()


def authority_of(uri: str) -> str:
    """host[:port], what names a server (two test servers differ only by address and port)."""
    return urlsplit(uri).netloc.lower()


def parse_actor(document: dict[str, Any], *, fetched_from: str) -> ActorDocument:
    """An actor document checked for what we rely on; ``RemoteError`` otherwise. Its ``id``
    and its key must be on the server we fetched it from (no server speaks for another)."""
    uri, kind = document.get("id"), document.get("type")
    key = document.get("publicKey")
    if isinstance(key, list):
        key = key[0] if key else None
    if not isinstance(uri, str) or kind not in ACTOR_TYPES or not isinstance(key, dict):
        raise RemoteError(f"{fetched_from[:200]} is not an actor with a key")
    if authority_of(uri) != authority_of(fetched_from):
        raise RemoteError(f"{fetched_from[:200]} claims to be {uri[:200]}")
    key_id, pem, owner = key.get("id"), key.get("publicKeyPem"), key.get("owner", uri)
    inbox = document.get("inbox")
    if not (isinstance(key_id, str) and isinstance(pem, str) and owner == uri and isinstance(inbox, str)):
        raise RemoteError(f"{uri[:200]} has no usable key or inbox")
    if authority_of(key_id) != authority_of(uri) or authority_of(inbox) != authority_of(uri):
        raise RemoteError(f"{uri[:200]} names a key or inbox on another server")
    endpoints = document.get("endpoints") if isinstance(document.get("endpoints"), dict) else {}
    shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
    name = document.get("preferredUsername")
    url = document.get("url")
    return ActorDocument(
        uri=uri, name=str(name) if isinstance(name, str) and name else uri.rstrip("/").rsplit("/", 1)[-1],
        domain=authority_of(uri), display_name=_text(document.get("name")), bio=_text(document.get("summary")),
        inbox=inbox, shared_inbox=shared if isinstance(shared, str) and authority_of(shared) == authority_of(uri)
        else None, key_id=key_id, public_pem=pem, kind=str(kind), url=url if isinstance(url, str) else None)


async def fetch_actor(uri: str, *, services: Services) -> RemoteActor:
    """Fetch the actor at ``uri`` (a key ID's fragment is dropped) and store it."""
    uri = uri.split("#", 1)[0]
    signer = await signer_for(INSTANCE_ACTOR, services=services)
    document = await transport.get_json(uri, signer=signer, services=services)
    return await store_actor(parse_actor(document, fetched_from=uri), services=services)


async def store_actor(actor: ActorDocument, *, services: Services) -> RemoteActor:
    async with services.db.session() as session:
        stored = await session.scalar(sa.select(RemoteActor).where(RemoteActor.uri == actor.uri))
        user = await accounts.upsert_remote(session, ids=services.ids, user_id=stored.user_id if stored else None,
                                            name=actor.name, domain=actor.domain, display_name=actor.display_name,
                                            bio=actor.bio)
        if stored is None:
            stored = await _claim(session, actor, user_id=user.id)
        stored.key_id, stored.public_pem, stored.inbox = actor.key_id, actor.public_pem, actor.inbox
        stored.shared_inbox, stored.domain, stored.kind = actor.shared_inbox, actor.domain, actor.kind
        stored.url, stored.fetched_at = actor.url, utcnow()
        first_seen = await insert_ignore(session, RemoteInstance, {"domain": actor.domain, "policy": "none",
                                                                    "failures": 0})
        await session.flush()
        session.expunge(stored)
    if first_seen:  # off the caller's path (an inbox request waits on this function)
        services.spawn(learn_software(actor.domain, scheme=actor.uri.split("://", 1)[0], services=services),
                       f"nodeinfo-{actor.domain}")
    return stored


async def _claim(session: AsyncSession, actor: ActorDocument, *, user_id: int) -> RemoteActor:
    """The actor's row, inserted at its first sighting. Two first sightings at once (requests
    of a new server signed by one key) both insert: the second's insert does nothing, and it
    reads (and refreshes) the first's row. An account whose URI changed keeps its row."""
    await session.execute(insert_for(session, RemoteActor).values(
        user_id=user_id, uri=actor.uri, key_id=actor.key_id, public_pem=actor.public_pem, inbox=actor.inbox,
        domain=actor.domain, kind=actor.kind, fetched_at=utcnow()).on_conflict_do_nothing())
    stored = await session.scalar(sa.select(RemoteActor).where(RemoteActor.uri == actor.uri))
    if stored is None:
        stored = await session.scalar(sa.select(RemoteActor).where(RemoteActor.user_id == user_id))
        if stored is None:
            raise RemoteError(f"{actor.uri[:200]} could not be stored")
        stored.uri = actor.uri
    return stored


async def learn_software(server: str, *, scheme: str, services: Services) -> str | None:
    """What software a newly met server runs (its NodeInfo), for policies by software; None
    when it does not say. Best effort: a server without NodeInfo federates all the same."""
    signer = await signer_for(INSTANCE_ACTOR, services=services)
    try:
        links = await transport.get_json(f"{scheme}://{server}/.well-known/nodeinfo", signer=signer,
                                         services=services, accept="application/json")
        href = next((link.get("href") for link in links.get("links") or [] if isinstance(link, dict)
                     and "nodeinfo.diaspora.software/ns/schema/2" in str(link.get("rel"))), None)
        if not isinstance(href, str) or authority_of(href) != server:
            return None
        info = await transport.get_json(href, signer=signer, services=services, accept="application/json")
    except RemoteError as exc:
        log.info("federation.nodeinfo_unavailable", server=server, error=exc.detail)
        return None
    software = info.get("software") if isinstance(info.get("software"), dict) else {}
    name = software.get("name") if isinstance(software, dict) else None
    if not isinstance(name, str) or not name.strip():
        return None
    software_name = name.strip().lower()[:60]
    async with services.db.session() as session:
        await session.execute(sa.update(RemoteInstance).where(RemoteInstance.domain == server).values(
            software=software_name))
    outcome = await admin.software_learned(server, software_name, services=services)
    if outcome is not None:
        log.info("federation.software_policy_applied", server=server, software=software_name, outcome=outcome)
    return software_name


async def actor_for_key(key_id: str, *, services: Services, refresh: bool = False, cached: bool = True) -> RemoteActor:
    """The stored actor that owns ``key_id``, fetched when unknown, stale or ``refresh``
    (a signature failed: the key may have been rotated). ``cached``: this process's copy
    (``KEYS_TTL_S``) will do; the inbox checks each signature against it, and reads the
    database again when it fails (another process may have fetched a rotated key)."""
    known = _known_keys(services.db)
    max_age = timedelta(seconds=services.settings.federation_actor_refresh_s)
    if not refresh:
        entry = known.get(key_id) if cached else None
        if entry is not None and time.monotonic() - entry[0] < KEYS_TTL_S and utcnow() - entry[1].fetched_at < max_age:
            known.move_to_end(key_id)
            return entry[1]
        reading_since = time.monotonic()
        async with services.db.session() as session:
            stored = await session.scalar(sa.select(RemoteActor).where(RemoteActor.key_id == key_id).limit(1))
        if stored is not None and utcnow() - stored.fetched_at < max_age:
            _keep_key(known, key_id, reading_since, stored)
            return stored
    return await _fetch_once(key_id, services=services)


async def _fetch_once(key_id: str, *, services: Services) -> RemoteActor:
    """Fetch the actor owning ``key_id``; requests that need it meanwhile (a new server's
    first burst) wait for that one fetch instead of each fetching and storing it."""
    fetching = _FETCHING.setdefault(services.db, {})
    running = fetching.get(key_id)
    if running is None:
        running = fetching[key_id] = asyncio.ensure_future(_fetch(key_id, services=services))
        running.add_done_callback(lambda _: fetching.pop(key_id, None))
    return await asyncio.shield(running)


async def _fetch(key_id: str, *, services: Services) -> RemoteActor:
    known = _known_keys(services.db)
    reading_since = time.monotonic()
    fetched = await fetch_actor(key_id, services=services)
    if fetched.key_id == key_id:
        _keep_key(known, key_id, reading_since, fetched)
    else:  # the key ID now names another key: nothing signs with this one any more
        known.pop(key_id, None)
    return fetched


def forget_key(key_id: str, *, services: Services) -> bool:
    """Drop this process's copy of the actor owning ``key_id``; whether there was one."""
    return _known_keys(services.db).pop(key_id, None) is not None


def _known_keys(db: Database) -> OrderedDict[str, tuple[float, RemoteActor]]:
    found = _KEYS.get(db)
    if found is None:
        found = _KEYS[db] = OrderedDict()
    return found


def _keep_key(known: OrderedDict[str, tuple[float, RemoteActor]], key_id: str, read_at: float,
              actor: RemoteActor) -> None:
    latest = known.get(key_id)
    if latest is not None and latest[0] > read_at:  # a newer copy came in while we read
        return
    known[key_id] = (read_at, actor)
    known.move_to_end(key_id)
    while len(known) > KEYS_MAX:
        known.popitem(last=False)  # the least recently used


async def actor_by_uri(uri: str, *, services: Services, fetch: bool = True) -> RemoteActor | None:
    async with services.db.session() as session:
        stored = await session.scalar(sa.select(RemoteActor).where(RemoteActor.uri == uri))
    if stored is None and fetch:
        stored = await fetch_actor(uri, services=services)
    return stored


async def actors(user_ids: list[int], *, services: Services) -> dict[int, RemoteActor]:
    if not user_ids:
        return {}
    async with services.db.session() as session:
        rows = await session.scalars(sa.select(RemoteActor).where(RemoteActor.user_id.in_(set(user_ids))))
        return {row.user_id: row for row in rows}


async def resolve_account(account: str, *, services: Services) -> RemoteActor:
    """``name@host`` (with or without a leading @) through the host's WebFinger."""
    name, _, host = account.lstrip("@").partition("@")
    if not name or not host:
        raise NotFound(f"{account[:100]!r} is not name@host")
    plain = services.settings.federation_allow_http and await transport.on_loopback(host)
    scheme = "http" if plain else "https"
    url = f"{scheme}://{host}/.well-known/webfinger?resource={quote(f'acct:{name}@{host}')}"
    signer = await signer_for(INSTANCE_ACTOR, services=services)
    try:
        document = await transport.get_json(url, signer=signer, services=services, accept="application/jrd+json")
    except RemoteError as exc:
        raise NotFound(f"no account {account[:100]}: {exc.detail}") from exc
    links = document.get("links")
    for link in links if isinstance(links, list) else []:
        if (isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str)
                and ("activity+json" in str(link.get("type")) or "activitystreams" in str(link.get("type")))):
            return await fetch_actor(link["href"], services=services)
    raise NotFound(f"{host} names no ActivityPub actor for {name}")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
