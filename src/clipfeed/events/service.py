"""Ingestion of client playback events: validate, deduplicate, enrich, publish.

Partial success: a well-formed batch is answered 200 with how many events were accepted, how
many were duplicates, and each refused event with its reason; clients drop refused events and
resend a whole batch only when the request itself failed (network error, 429, 5xx).

Killed half-way: events are marked as received only after both topics have them. A process
dying before that leaves the client without an answer; it resends, and the events already
appended are appended again with the same envelope ID, which every processor deduplicates.
After the append, a batch's strong signals (a skip, a completion, a long watch) are written to
the viewer's live profile at once, so their next feed page is re-ranked with them
(``clipfeed.recs.session``: what a crash there costs).

With the event log unreachable, the batch is kept in the outbox (the database) and published
by the relay once the log is back: accepted now, delivered later. With the cache unreachable,
ingestion goes on: the seen-ID check that drops a retried batch early and the live profile
write are skipped (the processors deduplicate by envelope ID, and the worker's fold writes the
profile later), so a viewer's playback is never refused for a cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from pydantic import ValidationError

from clipfeed.core.contract import PLAYBACK, Playback, Topic
from clipfeed.core.errors import Unavailable
from clipfeed.core.viewers import ViewerId
from clipfeed.events.models import TIMINGS, ClientEvent, IngestResult, RejectedEvent
from clipfeed.events.topics import ensure_topics
from clipfeed.infra.log import OutgoingRecord
from clipfeed.recs import session as session_signals

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

SEEN_BUCKET_S = 3600  # received IDs are remembered for one to two of these
INGESTED = Counter("clipfeed_events_ingested_total", "Client events by outcome (accepted, duplicate, "
                   "invalid, clock_skew, too_old)", ["outcome"])


def envelope_id(viewer_key: str, client_event_id: str) -> int:
    """The envelope ID of a client event: the same for a resent event (so consumers drop the
    copy by ID), different for the same client ID from another viewer (no cross-user clashes)."""
    digest = hashlib.blake2b(f"{viewer_key}|{client_event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2**63 - 1)


def _problem_text(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    # Our validators' messages come wrapped as "Value error, <ours>": keep only ours.
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"


def validate(raw_events: list[Any], *, now: float, max_future_s: float,
             max_age_s: float) -> tuple[list[tuple[int, ClientEvent]], list[RejectedEvent]]:
    """Schema and clock-skew checks, event by event."""
    good: list[tuple[int, ClientEvent]] = []
    rejected: list[RejectedEvent] = []
    for index, raw in enumerate(raw_events):
        claimed_id = raw.get("event_id") if isinstance(raw, dict) else None
        claimed_id = claimed_id if isinstance(claimed_id, str) and len(claimed_id) <= 64 else None
        try:
            event = ClientEvent.model_validate(raw)
        except ValidationError as exc:
            rejected.append(RejectedEvent(index=index, event_id=claimed_id, reason="invalid",
                                          detail=_problem_text(exc)))
            continue
        at = event.ts.timestamp()
        if at > now + max_future_s:
            rejected.append(RejectedEvent(index=index, event_id=event.event_id, reason="clock_skew",
                                          detail=f"ts is {at - now:.0f} s ahead of the server clock"))
        elif at < now - max_age_s:
            rejected.append(RejectedEvent(index=index, event_id=event.event_id, reason="too_old",
                                          detail=f"ts is older than {max_age_s:.0f} s"))
        else:
            good.append((index, event))
    return good, rejected


def _payload(event: ClientEvent, viewer: ViewerId, received_ms: int) -> Playback:
    timings = {name: getattr(event, name) for name in TIMINGS if getattr(event, name) is not None}
    return Playback(clip_id=event.clip_id, viewer=viewer.key, user_id=viewer.user_id, client_event_id=event.event_id,
                    session_id=event.session_id, device=event.device.value, network=event.network.value,
                    source=event.source.value if event.source else None, received_ms=received_ms,
                    ended=bool(event.ended), **timings)


async def ingest(*, services: Services, raw_events: list[Any], viewer: ViewerId, region: str,
                 now: float | None = None) -> IngestResult:
    settings = services.settings
    now = time.time() if now is None else now
    good, rejected = validate(raw_events, now=now, max_future_s=settings.events_max_future_skew_s,
                              max_age_s=settings.events_max_age_s)
    fresh, duplicates = await _drop_seen(viewer, good, now, services=services)
    if fresh:
        received_ms = int(now * 1000)
        by_clip: list[OutgoingRecord] = []
        by_user: list[OutgoingRecord] = []
        viewer_key = viewer.key.encode()
        for event in fresh:
            envelope = PLAYBACK[event.type.value].event(
                id=envelope_id(viewer.key, event.event_id), key=event.clip_id, actor_id=viewer.user_id,
                region=region, occurred_at=event.ts, payload=_payload(event, viewer, received_ms))
            # One encoding for both topics: the envelope names the clip as its key, and the
            # user topic's copy is partitioned by the record key (the viewer) instead.
            body = envelope.encode()
            by_clip.append(OutgoingRecord(body, key=str(event.clip_id).encode()))
            by_user.append(OutgoingRecord(body, key=viewer_key))
        try:
            await ensure_topics(services=services)
            await asyncio.gather(services.log.append_batch(Topic.ACTIVITY_CLIPS, by_clip),
                                 services.log.append_batch(Topic.ACTIVITY_USERS, by_user))
        except Unavailable:
            # The log is down (a restart, a lost node): the database keeps the batch and the
            # relay publishes it once the log is back. Had one topic taken it already, its
            # consumers drop the second copy by envelope ID.
            await services.outbox.stage({Topic.ACTIVITY_CLIPS: by_clip, Topic.ACTIVITY_USERS: by_user})
        # The viewer's next feed page sees these at once, not after the stream worker's lag.
        await session_signals.note(viewer.key, [session_signals.Signal(
            e.clip_id, session_signals.feedback_kind(e.type.value, ended=bool(e.ended), position_ms=e.position_ms,
                                                     watch_ms=e.watch_ms or 0),
            e.ts.timestamp(), e.watch_ms or 0) for e in fresh], cache=services.cache)
        await _mark_seen(viewer, fresh, now, services=services)
    INGESTED.labels("accepted").inc(len(fresh))
    INGESTED.labels("duplicate").inc(duplicates)
    for refused in rejected:
        INGESTED.labels(refused.reason).inc()
    return IngestResult(accepted=len(fresh), duplicates=duplicates, rejected=rejected)


def _seen_keys(viewer: ViewerId, now: float) -> tuple[str, str]:
    bucket = int(now // SEEN_BUCKET_S)
    return f"ev:seen:{viewer.key}:{bucket}", f"ev:seen:{viewer.key}:{bucket - 1}"


async def _drop_seen(viewer: ViewerId, good: list[tuple[int, ClientEvent]], now: float,
                     *, services: Services) -> tuple[list[ClientEvent], int]:
    """First line of deduplication (retries of a batch); processors deduplicate for good."""
    ids = [event.event_id for _, event in good]
    if not ids:
        return [], 0
    current, previous = _seen_keys(viewer, now)
    try:
        in_current, in_previous = await asyncio.gather(services.cache.sismember_many(current, ids),
                                                       services.cache.sismember_many(previous, ids))
    except Unavailable:  # cache down: every event goes on; the processors drop repeats by ID
        in_current = in_previous = [False] * len(ids)
    fresh: list[ClientEvent] = []
    batch_ids: set[str] = set()
    for (_, event), a, b in zip(good, in_current, in_previous, strict=True):
        if a or b or event.event_id in batch_ids:
            continue
        batch_ids.add(event.event_id)
        fresh.append(event)
    return fresh, len(good) - len(fresh)


async def _mark_seen(viewer: ViewerId, fresh: list[ClientEvent], now: float, *, services: Services) -> None:
    current, _ = _seen_keys(viewer, now)
    with contextlib.suppress(Unavailable):  # see _drop_seen: a first line of deduplication only
        await services.cache.sadd(current, *(event.event_id for event in fresh), ttl=2 * SEEN_BUCKET_S + 60)
