"""Outgoing activities: queued as ``federation_deliveries`` rows, one per inbox, and sent by
the federation worker's delivery loop.

* **Shared inboxes**: a fan-out sends one copy per server that offers a shared inbox, not one
  per follower there (``inboxes_of``).
* **Retries**: a failed attempt (network error, 5xx, 401, 408, 429) is tried again after
  ``30 s × 2^attempts`` (capped at 6 h) until ``federation_retry_window_s`` (two days) has
  passed since the row was made; another 4xx is final. A 401 also drops this process's copy of
  the signing key, which another process may have rotated.
* **Dead servers**: a server whose deliveries have failed for the whole window, without one
  success, is marked dead; new deliveries skip it until it sends us something (``policy.heard_from``).
* **Leases**: a worker claims due rows for ``LEASE`` before sending, so two workers never send
  one row at once; a worker that dies mid-send leaves the lease to run out and the row is sent
  again (receivers drop the repeated activity ID).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Gauge

from clipfeed.federation import documents, keys, policy, publish, remote
from clipfeed.federation.keys import signer_for
from clipfeed.federation.models import Delivery, DomainPolicy, RemoteActor, RemoteInstance
from clipfeed.federation.transport import RefusedUrl, post
from clipfeed.infra.db import insert_ignore, utcnow
from clipfeed.social import follows

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
LEASE = timedelta(seconds=60)
FIRST_RETRY_S, MAX_RETRY_S = 30.0, 6 * 3600.0
CLAIM = 200
DELIVERED = Counter("clipfeed_federation_deliveries_total",
                    "Delivery attempts to remote inboxes, by outcome and server", ["outcome", "server"])
QUEUED = Gauge("clipfeed_federation_queue_depth", "Deliveries waiting, as of the delivery loop's last pass")


async def inboxes_of(user_ids: list[int], *, services: Services) -> dict[str, str]:
    """Inbox URL -> server for these remote accounts, one shared inbox per server that has one."""
    found: dict[str, str] = {}
    for actor in (await remote.actors(user_ids, services=services)).values():
        found[actor.shared_inbox or actor.inbox] = actor.domain
    return found


async def known_inboxes(*, services: Services) -> dict[str, str]:
    """One inbox (the shared one where offered) per server we know an account of and have not
    given up on: where an account's deletion must be told."""
    async with services.db.session() as session:
        actors = (await session.execute(
            sa.select(RemoteActor.domain, RemoteActor.shared_inbox, RemoteActor.inbox)
            .join(RemoteInstance, RemoteInstance.domain == RemoteActor.domain)
            .where(RemoteInstance.dead_since.is_(None)))).all()
    found: dict[str, str] = {}
    personal: dict[str, str] = {}  # server -> one personal inbox, for servers without a shared one
    for domain, shared, inbox in actors:
        if shared:
            found[shared] = domain
        else:
            personal.setdefault(domain, inbox)
    covered = set(found.values())
    found.update({inbox: domain for domain, inbox in personal.items() if domain not in covered})
    return found


async def enqueue(inboxes: dict[str, str], *, activity: dict[str, Any], signer_id: int, services: Services) -> int:
    """Queue ``activity`` for each inbox whose server we federate with and have not given up on.
    Servers whose software takes clips only as a ``Note`` (Loops) get it in that shape."""
    return await enqueue_many([(inboxes, activity, signer_id)], services=services)


async def enqueue_many(items: list[tuple[dict[str, str], dict[str, Any], int]], *, services: Services) -> int:
    """``enqueue`` for many ``(inboxes, activity, signer)`` at once: one read of the servers'
    standing and one transaction for all (the worker answers a run of Follows this way)."""
    servers = {server for inboxes, _, _ in items for server in inboxes.values()}
    if not servers:
        return 0
    async with services.db.session() as session:
        rows = (await session.execute(sa.select(RemoteInstance.domain, RemoteInstance.dead_since,
                                                RemoteInstance.policy, RemoteInstance.software)
                                      .where(RemoteInstance.domain.in_(servers)))).all()
    known = {domain: (since, found) for domain, since, found, _ in rows}
    note_only = {domain for domain, _, _, software in rows if software in documents.NOTE_ONLY_SOFTWARE}
    mode = services.settings.federation_mode

    def wanted_server(server: str) -> bool:  # policy.allowed, decided from the row read above
        since, found = known.get(server, (None, DomainPolicy.none.value))
        return since is None and policy.allows(mode, DomainPolicy(found))

    queued: list[Delivery] = []
    for inboxes, activity, signer_id in items:
        wanted = [(inbox, server) for inbox, server in inboxes.items() if wanted_server(server)]
        if not wanted:
            continue
        body = _encoded(activity)
        post_body = _encoded(documents.as_video_post(activity)) if note_only.intersection(inboxes.values()) else body
        queued += [Delivery(id=services.ids.next_id(), inbox=inbox, domain=server, signer_id=signer_id,
                            activity_id=str(activity["id"]), body=post_body if server in note_only else body)
                   for inbox, server in wanted]
    if queued:
        async with services.db.session() as session:
            session.add_all(queued)
    return len(queued)


def _encoded(activity: dict[str, Any]) -> bytes:
    return json.dumps(activity, ensure_ascii=False, separators=(",", ":")).encode()


async def send_to(user_id: int, *, kind: str, signer_id: int, object: Any, services: Services,
                  activity_id: str | None = None) -> None:
    """One activity of ``signer_id`` (a local user) to one remote account (Accept, Like, Follow …);
    ``activity_id`` when it comes from an event (the same ID however often the event is handled)."""
    uris = publish.uris(services=services)
    activity = documents.activity(uris, kind=kind, event_id=services.ids.next_id(), actor=uris.actor(signer_id),
                                  object=object)
    if activity_id is not None:
        activity["id"] = activity_id
    actor = (await remote.actors([user_id], services=services)).get(user_id)
    if actor is not None:
        activity["to"] = [actor.uri]
        await enqueue({actor.inbox: actor.domain}, activity=activity, signer_id=signer_id, services=services)


async def to_followers(owner_id: int, activity: dict[str, Any], *, services: Services) -> int:
    """``activity`` of a local account to every server where it has followers (one shared inbox
    per server where offered)."""
    inboxes: dict[str, str] = {}
    async for batch in follows.iter_follower_ids(db=services.db, user_id=owner_id):
        for actor in (await remote.actors(batch, services=services)).values():
            inboxes[actor.shared_inbox or actor.inbox] = actor.domain
    if not inboxes:
        return 0
    return await enqueue(inboxes, activity=activity, signer_id=owner_id, services=services)


def retry_delay(attempts: int) -> float:
    return min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1))


async def delivery_loop(stop: asyncio.Event, *, services: Services) -> None:
    """Send due deliveries until ``stop``; each pass claims a batch and sends it concurrently,
    at most ``federation_per_instance_concurrency`` at a time to one server."""
    while not stop.is_set():
        try:
            sent = await deliver_due(services=services)
        except Exception as exc:  # the database away: try again shortly
            log.warning("federation.delivery_pass_failed", error=str(exc))
            sent = 0
        if sent == 0:
            with contextlib.suppress(Exception):  # a gauge is not worth failing the loop
                QUEUED.set(await queue_depth(services=services))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


async def deliver_due(*, services: Services) -> int:
    """One pass: claim up to ``CLAIM`` due rows and send them; the number claimed."""
    now = utcnow()
    async with services.db.session() as session:
        query = sa.select(Delivery.id).where(Delivery.next_attempt_at <= now, sa.or_(
            Delivery.claimed_until.is_(None), Delivery.claimed_until < now)).order_by(
            Delivery.next_attempt_at).limit(CLAIM)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list((await session.scalars(query)).all())
        if ids:
            await session.execute(sa.update(Delivery).where(Delivery.id.in_(ids)).values(claimed_until=now + LEASE))
            rows = list((await session.scalars(sa.select(Delivery).where(Delivery.id.in_(ids)))).all())
            session.expunge_all()
    if not ids:
        return 0
    settings = services.settings
    overall = asyncio.Semaphore(settings.federation_delivery_concurrency)
    per_server: dict[str, asyncio.Semaphore] = defaultdict(
        lambda: asyncio.Semaphore(settings.federation_per_instance_concurrency))

    delivered: list[Delivery] = []

    async def one(row: Delivery) -> None:
        async with overall, per_server[row.domain]:
            if await _attempt(row, services=services):
                delivered.append(row)

    await asyncio.gather(*(one(row) for row in rows))
    await _done(delivered, services=services)
    return len(ids)


async def _attempt(row: Delivery, *, services: Services) -> bool:
    """Send one row; True when its inbox took it (the caller removes those rows together), a
    failure recorded otherwise."""
    error: str | None = None
    final = False
    try:
        signer = await signer_for(row.signer_id, services=services)
        response = await post(row.inbox, row.body, signer=signer, services=services)
        if response.status_code < 300 or response.status_code == 409:  # 409: they have it already
            return True
        error = f"HTTP {response.status_code}"
        if response.status_code == 401:  # our key may have been rotated by another process: reload it
            keys.forget(row.signer_id, services=services)
        # 401 is retried too: the receiver may hold our old key and fetch the new one meanwhile.
        final = 400 <= response.status_code < 500 and response.status_code not in (401, 408, 429)
    except RefusedUrl as exc:
        error, final = exc.detail, True
    except (httpx.HTTPError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    await _failed(row, error=error or "failed", final=final, services=services)
    return False


async def _done(rows: list[Delivery], *, services: Services) -> None:
    """One transaction for a pass's deliveries: a process dying before it commits sends them
    again once their lease runs out, and receivers drop the repeated activity IDs."""
    if not rows:
        return
    async with services.db.session() as session:
        await session.execute(sa.delete(Delivery).where(Delivery.id.in_([row.id for row in rows])))
        await session.execute(sa.update(RemoteInstance).where(
            RemoteInstance.domain.in_({row.domain for row in rows})).values(
            last_success_at=utcnow(), failures=0, dead_since=None))
    for row in rows:
        DELIVERED.labels("delivered", row.domain).inc()


async def _failed(row: Delivery, *, error: str, final: bool, services: Services) -> None:
    now = utcnow()
    window = timedelta(seconds=services.settings.federation_retry_window_s)
    attempts = row.attempts + 1
    next_at = now + timedelta(seconds=retry_delay(attempts))
    expired = final or next_at - row.created_at > window
    async with services.db.session() as session:
        await insert_ignore(session, RemoteInstance, {"domain": row.domain, "policy": "none", "failures": 0})
        if expired:
            await session.execute(sa.delete(Delivery).where(Delivery.id == row.id))
        else:
            await session.execute(sa.update(Delivery).where(Delivery.id == row.id).values(
                attempts=attempts, next_attempt_at=next_at, claimed_until=None, last_error=error))
        instance = await session.get(RemoteInstance, row.domain)
        assert instance is not None
        instance.failures += 1
        instance.last_failure_at = now
        if not final and expired and _silent_since(instance, now - window):
            instance.dead_since = now
    DELIVERED.labels("refused" if final else ("given-up" if expired else "retrying"), row.domain).inc()
    log.info("federation.delivery_failed", inbox=row.inbox, error=error, attempts=attempts, final=final)


def _silent_since(instance: RemoteInstance, moment: datetime) -> bool:
    return instance.last_success_at is None or instance.last_success_at < moment


async def queue_depth(*, services: Services) -> int:
    async with services.db.session() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Delivery)) or 0)

