"""Taking an activity in: checks on the request path, the work off it.

The inbox route checks the sender's signature (fetching its key when unknown or when the stored
one fails: keys get rotated), the instance's federation mode and the sender's domain policy,
then stores the activity's ID and queues the activity on the event log in one transaction and
answers 202. A process that dies before that commit stored nothing, and the sender retries; one
that dies after it has queued the activity, which the federation worker applies. The same ID
again is refused (409), so a replayed request changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError

from clipfeed.core import contract
from clipfeed.core.errors import BadRequest, Conflict, Unauthorized
from clipfeed.federation import policy, publish, remote
from clipfeed.federation.models import ReceivedActivity, RemoteActor
from clipfeed.federation.signatures import SignatureError, key_id_of, load_public_key, verify_request
from clipfeed.federation.transport import RemoteError
from clipfeed.infra.db import insert_ignore, utcnow

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
REFETCH_AFTER = timedelta(seconds=60)
RECEIVED = Counter("clipfeed_federation_received_total", "Activities posted to our inboxes, by outcome and server",
                   ["outcome", "server"])


def activity_digest(activity_id: str) -> bytes:
    return hashlib.sha256(activity_id.encode()).digest()


def actor_uri(activity: Mapping[str, Any]) -> str | None:
    actor = activity.get("actor")
    if isinstance(actor, dict):
        actor = actor.get("id")
    return actor if isinstance(actor, str) else None


async def receive(*, services: Services, recipient_id: int | None, method: str, target: str,
                  headers: Mapping[str, str], body: bytes) -> None:
    """Check and queue one posted activity; raises the problem to answer otherwise."""
    try:
        activity = json.loads(body)
    except ValueError as exc:
        raise BadRequest("the body is not JSON") from exc
    if not isinstance(activity, dict) or not isinstance(activity.get("id"), str) or not isinstance(
            activity.get("type"), str) or actor_uri(activity) is None:
        raise BadRequest("an activity needs an id, a type and an actor")
    try:
        key_id = key_id_of(headers)
    except SignatureError as exc:
        raise _refused(exc) from exc
    server = remote.authority_of(key_id)
    ours = publish.uris(services=services).host.lower()
    if str(headers.get("host", "")).lower() != ours:  # signed for another server: replayed here
        RECEIVED.labels("forged", server).inc()
        raise Unauthorized(f"the signed host {str(headers.get('host', ''))[:200]!r} is not this server ({ours})")
    was_dead = await policy.check_inbound(server, services=services)
    await services.limiter.hit("federation.posts", server, per_seconds=60,
                               limit=services.settings.federation_inbox_per_server_per_minute)
    sender = await verified_sender(key_id, method=method, target=target, headers=headers, body=body,
                                    services=services)
    if actor_uri(activity) != sender.uri or remote.authority_of(activity["id"]) != sender.domain:
        RECEIVED.labels("forged", server).inc()
        raise Unauthorized("the activity's actor or ID is not the signer's")
    try:
        async with services.db.session() as session:
            if not await insert_ignore(session, ReceivedActivity, {"digest": activity_digest(activity["id"])}):
                RECEIVED.labels("replayed", server).inc()
                raise Conflict(f"activity {activity['id'][:200]} was already received")
            queued = contract.ActivityReceived(activity=activity, sender_id=sender.user_id, recipient_id=recipient_id)
            services.outbox.record(session, contract.ACTIVITY_RECEIVED, key=sender.uri, payload=queued)
    except IntegrityError as exc:  # the same activity, posted twice at once
        raise Conflict(f"activity {activity['id'][:200]} was already received") from exc
    if was_dead:  # a write only in that rare case: the hot path stays read-only before its commit
        await policy.heard_from(sender.domain, services=services)
    RECEIVED.labels("queued", server).inc()


async def verified_sender(key_id: str, *, method: str, target: str, headers: Mapping[str, str], body: bytes,
                           services: Services) -> RemoteActor:
    settings = services.settings
    for refresh in (False, True):
        try:
            sender = await remote.actor_for_key(key_id, services=services, refresh=refresh)
        except RemoteError as exc:
            RECEIVED.labels("unknown-key", remote.authority_of(key_id)).inc()
            raise Unauthorized(f"the signing key {key_id[:200]} could not be fetched: {exc.detail}") from exc
        try:
            verify_request(method=method, target=target, headers=headers, body=body,
                           public_key=load_public_key(sender.public_pem),
                           max_age_s=settings.federation_signature_max_age_s,
                           max_future_s=settings.federation_signature_max_future_s)
            return sender
        except SignatureError as exc:
            # The sender may have rotated its key: fetch it again, once, unless we just did
            # (so bad requests cannot make us fetch on every one).
            just_fetched = utcnow() - sender.fetched_at < REFETCH_AFTER
            if refresh or exc.status != 401 or just_fetched:
                RECEIVED.labels("bad-signature", remote.authority_of(key_id)).inc()
                raise _refused(exc) from exc
    raise AssertionError("unreachable")


async def prune_loop(stop: asyncio.Event, *, services: Services) -> None:
    """Forget received activity IDs once a replay of them would fail on its date anyway (the
    signature window, plus an hour), hourly."""
    settings = services.settings
    while not stop.is_set():
        keep = timedelta(seconds=settings.federation_signature_max_age_s
                         + settings.federation_signature_max_future_s + 3600)
        try:
            async with services.db.session() as session:
                await session.execute(sa.delete(ReceivedActivity).where(ReceivedActivity.received_at < utcnow() - keep))
        except Exception as exc:  # the database away: next hour
            log.warning("federation.prune_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=3600)


async def check_signed_fetch(*, services: Services, target: str, headers: Mapping[str, str]) -> None:
    """With ``federation_authorized_fetch``: a GET of our documents must be signed by a server we
    federate with (raises 401 or 403 otherwise)."""
    if not services.settings.federation_authorized_fetch:
        return
    try:
        key_id = key_id_of(headers)
    except SignatureError as exc:
        raise _refused(exc) from exc
    await policy.check_inbound(remote.authority_of(key_id), services=services)
    await verified_sender(key_id, method="GET", target=target, headers=headers, body=b"", services=services)


def _refused(exc: SignatureError) -> Unauthorized | BadRequest:
    return BadRequest(exc.detail) if exc.status == 400 else Unauthorized(exc.detail)
