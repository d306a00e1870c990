"""Taking an activity in: checks on the request path, the work off it.

The inbox route checks the sender's signature (fetching its key when unknown or when the stored
one fails: keys get rotated), the instance's federation mode and the sender's domain policy,
then stores the activity's ID and queues the activity on the event log in one transaction and
answers 202. A process that dies before that commit stored nothing, and the sender retries; one
that dies after it has queued the activity, which the federation worker applies. The same ID
again is refused (409), so a replayed request changes nothing.

Nothing on that path reads the database for what rarely changes: the server's policy and
health (``policy``), the signer's key (``remote.actor_for_key``) and the recipient's standing
(``recipient``) are kept per process, each with the staleness its module states. The one
write is shared: concurrent requests hand their activity to ``ReceivedWriter``, which commits
everything waiting in one transaction and answers each request once that commit is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from prometheus_client import Counter, Histogram

from clipfeed.core import contract
from clipfeed.core.errors import BadRequest, Conflict, Unauthorized, Unavailable
from clipfeed.federation import policy, publish, remote
from clipfeed.federation.models import ReceivedActivity, RemoteActor
from clipfeed.federation.signatures import SignatureError, key_id_of, load_public_key, verify_request
from clipfeed.federation.transport import RemoteError
from clipfeed.infra.db import Database, insert_for, utcnow
from clipfeed.runtime.consumers import is_outage

if TYPE_CHECKING:
    from clipfeed.accounts.models import User
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
REFETCH_AFTER = timedelta(seconds=60)
RECEIVED = Counter("clipfeed_federation_received_total", "Activities posted to our inboxes, by outcome and server",
                   ["outcome", "server"])
BATCH_SIZE = Histogram("clipfeed_federation_inbox_batch_size", "Activities stored by one inbox commit",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))


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
    queued = contract.ActivityReceived(activity=activity, sender_id=sender.user_id, recipient_id=recipient_id)
    # Keyed by the sender's account, so what one account sends stays in order on one partition
    # (its users row ID: an actor's URI can be longer than an outbox key may be).
    if not await ReceivedWriter.of(services.db).store(activity_digest(activity["id"]), key=str(sender.user_id),
                                                      activity=queued, services=services):
        RECEIVED.labels("replayed", server).inc()
        raise Conflict(f"activity {activity['id'][:200]} was already received")
    if was_dead:  # a write only in that rare case: the hot path stays read-only before its commit
        await policy.heard_from(sender.domain, services=services)
    RECEIVED.labels("queued", server).inc()


@dataclass(eq=False)
class _Waiting:
    digest: bytes
    key: str
    activity: contract.ActivityReceived
    stored: asyncio.Future[bool] = field(repr=False)


class ReceivedWriter:
    """The inbox's group commit, one per database in a process.

    Each request hands over its activity (``store``) and waits. One task commits whatever is
    waiting in one transaction: the received IDs (``INSERT … ON CONFLICT DO NOTHING RETURNING``,
    so an ID already in the table is known exactly, whichever process stored it) and, for each
    new one, the queued event on the outbox. While that commit runs, new requests gather for
    the next one: under load a commit takes everything that came in meanwhile (up to
    ``MAX_BATCH``) and, after a shared commit, ``GATHER_S`` more (fewer, larger commits: each
    also costs the outbox relay a claim and a delete); alone a request commits at once. A
    request learns its outcome only after the commit that holds its activity: True (stored:
    answer 202) or False (that ID was received before, or earlier in the same batch: 409).
    When the commit fails, nothing of the batch is stored and each request gets the error; a
    failure that is not the database being away is retried one activity per transaction
    first, so one bad activity fails alone.
    """

    MAX_BATCH = 256
    GATHER_S = 0.005
    _of: weakref.WeakKeyDictionary[Database, ReceivedWriter] = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self._waiting: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, db: Database) -> ReceivedWriter:
        found = cls._of.get(db)
        if found is None:
            found = cls._of[db] = cls()
        return found

    async def store(self, digest: bytes, *, key: str, activity: contract.ActivityReceived,
                    services: Services) -> bool:
        """Store the received ID and queue ``activity``; False when the ID was received before."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(digest, key, activity, loop.create_future())
        self._waiting.append(waiting)
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(services=services), name="federation-inbox-writer")
        # A request cancelled here (its client went) may still be committed: the sender, not
        # having had its 202, posts it again and gets 409, as after a crash past the commit.
        return await waiting.stored

    async def _run(self, *, services: Services) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                # Requests already under way join in: those of this turn of the loop and, when
                # the last commit was shared (requests are coming in together), those that
                # finish their checks within GATHER_S. A lone request is not held up.
                busy = len(batch) > 1 and len(self._waiting) < self.MAX_BATCH
                await asyncio.sleep(self.GATHER_S if busy else 0)
                batch, self._waiting = self._waiting[:self.MAX_BATCH], self._waiting[self.MAX_BATCH:]
                batch = [waiting for waiting in batch if not waiting.stored.done()]
                if batch:
                    await self._commit_or_split(batch, services=services)
        finally:  # cancelled (the loop closing): nobody may wait for ever
            for waiting in [*batch, *self._waiting]:
                if not waiting.stored.done():
                    waiting.stored.set_exception(Unavailable("the inbox stopped before storing the activity"))

    async def _commit_or_split(self, batch: list[_Waiting], *, services: Services) -> None:
        try:
            outcomes = await self._commit(batch, services=services)
        except Exception as exc:
            if len(batch) > 1 and not is_outage(exc):
                log.warning("federation.inbox_batch_failed", size=len(batch), error=str(exc)[:300])
                for waiting in batch:
                    await self._commit_or_split([waiting], services=services)
                return
            for waiting in batch:
                if not waiting.stored.done():
                    waiting.stored.set_exception(exc)
            return
        for waiting, stored in zip(batch, outcomes, strict=True):
            if not waiting.stored.done():
                waiting.stored.set_result(stored)

    async def _commit(self, batch: list[_Waiting], *, services: Services) -> list[bool]:
        first: dict[bytes, _Waiting] = {}
        for waiting in batch:
            first.setdefault(waiting.digest, waiting)
        now = utcnow()
        async with services.db.session() as session:
            insert = insert_for(session, ReceivedActivity).values([
                {"digest": digest, "received_at": now} for digest in first]).on_conflict_do_nothing()
            new = {bytes(digest) for digest in (await session.execute(
                insert.returning(ReceivedActivity.digest))).scalars()}
            for digest, waiting in first.items():
                if digest in new:
                    services.outbox.record(session, contract.ACTIVITY_RECEIVED, key=waiting.key,
                                           payload=waiting.activity)
        BATCH_SIZE.observe(len(batch))
        return [waiting.digest in new and first[waiting.digest] is waiting for waiting in batch]


# Local users whose inbox took an activity lately, per process: a user deleted or suspended
# meanwhile gets activities accepted (202) for at most this long on a process that saw them in
# good standing; the worker then finds the account gone and drops them.
RECIPIENT_TTL_S = 10.0
_RECIPIENTS: weakref.WeakKeyDictionary[Database, dict[int, float]] = weakref.WeakKeyDictionary()


async def recipient(user_id: int, *, services: Services) -> None:
    """Raise 404 (410 for a deleted account) unless ``user_id`` is a local account in good
    standing whose inbox may take activities."""
    known = _RECIPIENTS.setdefault(services.db, {})
    seen = known.get(user_id)
    if seen is not None and time.monotonic() - seen < RECIPIENT_TTL_S:
        return
    reading_since = time.monotonic()
    user: User = await publish.local_user(user_id, services=services)
    if len(known) >= 10_000:
        known.clear()
    known[user.id] = reading_since


async def verified_sender(key_id: str, *, method: str, target: str, headers: Mapping[str, str], body: bytes,
                           services: Services) -> RemoteActor:
    """The stored actor whose key signed the request, or 401.

    Checked first against this process's copy of the key. When that fails: the stored row is
    read again (another process may have fetched a rotated key), then the actor is fetched
    from its server, unless it was fetched less than a minute ago (so bad requests cannot make
    us fetch on every one)."""

    def failure(sender: RemoteActor) -> SignatureError | None:
        settings = services.settings
        try:
            verify_request(method=method, target=target, headers=headers, body=body,
                           public_key=_public_key(sender.public_pem),
                           max_age_s=settings.federation_signature_max_age_s,
                           max_future_s=settings.federation_signature_max_future_s)
        except SignatureError as exc:
            return exc
        return None

    sender = await _sender(key_id, services=services)
    if (failed := failure(sender)) is None:
        return sender
    if failed.status == 401 and remote.forget_key(key_id, services=services):
        stored = await _sender(key_id, services=services, cached=False)
        if stored.public_pem != sender.public_pem and (failed := failure(stored)) is None:
            return stored
        sender = stored
    if failed.status == 401 and utcnow() - sender.fetched_at >= REFETCH_AFTER:
        sender = await _sender(key_id, services=services, refresh=True)
        if (failed := failure(sender)) is None:
            return sender
    RECEIVED.labels("bad-signature", remote.authority_of(key_id)).inc()
    raise _refused(failed)


async def _sender(key_id: str, *, services: Services, cached: bool = True, refresh: bool = False) -> RemoteActor:
    try:
        return await remote.actor_for_key(key_id, services=services, cached=cached, refresh=refresh)
    except RemoteError as exc:
        RECEIVED.labels("unknown-key", remote.authority_of(key_id)).inc()
        raise Unauthorized(f"the signing key {key_id[:200]} could not be fetched: {exc.detail}") from exc


@functools.lru_cache(maxsize=4096)
def _public_key(pem: str) -> RSAPublicKey:
    """Parsed once per process (a PEM costs about 0.1 ms to parse; every request needs one)."""
    return load_public_key(pem)


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
