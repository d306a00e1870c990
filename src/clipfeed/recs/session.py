"""In-session signals: what a viewer just did, written on the request that reports it, so the
very next feed page is ranked again with it.

Why on the request: the stream worker folds feedback into the viewer's state within its lag
(``clipfeed.recs.feedback``), but an app asks for its next page right after posting its events
(or the like). Waiting for the worker, that page came from the old buffer; by the page after,
the worker's background rebuild had replaced the buffer. The re-ranked path was never taken, and
the page after a like looked like the one before it.

So ``POST /v1/events`` and a like write the live profile entries of the strong signals (the
latest positive and negative clips, the hidden set) and the viewer's dirty stamp in one cache
pipeline: the next page re-ranks its buffer from that live profile (``compose.rerank``).

These writes are the same the worker's fold makes for the same events (the clip as member, the
event time as score, a set member), so the two writers commute: whichever lands first, the
profile ends up the same, and the fold's claims keep the counters and long-term affinities
(which only the worker writes) counted once. Killed half-way (between the log append and this
write, or mid-pipeline): the viewer's next page is not re-ranked until the worker's fold, which
makes the same writes seconds later; nothing is counted twice. The same holds when the cache is
unreachable: the write is skipped (logged), the request that reported the signal still succeeds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from clipfeed.core.errors import Unavailable
from clipfeed.infra.cache import Cache, Write
from clipfeed.recs.profile import (
    RECENT_KEPT,
    STATE_TTL_S,
    dirty_key,
    feedback_kind,
    known_key,
    live_part,
    moves_feed,
    ukey,
)

__all__ = ["Signal", "feedback_kind", "note"]

DIRTY_TTL_S = 3600.0
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Signal:
    clip_id: int
    kind: str  # a playback type (``feedback_kind``), or "like"
    at: float  # the event time (epoch seconds), the live profile's score
    watch_ms: float = 0.0


async def note(viewer: str, signals: Sequence[Signal], *, cache: Cache) -> bool:
    """Write the live profile entries of ``signals`` and, when one of them moves the feed, the
    viewer's dirty stamp (taken after the entries, in the same pipeline). Returns whether the
    viewer's next page will be re-ranked."""
    writes: list[Write] = []
    for signal in signals:
        part = live_part(signal.kind, signal.watch_ms)
        if part is None:
            continue
        live = ukey(viewer, part)
        writes += [Write("zadd", live, ({str(signal.clip_id): signal.at},), ttl=STATE_TTL_S),
                   Write("ztrim", live, (RECENT_KEPT,))]
        if signal.kind == "not_interested":
            writes.append(Write("sadd", ukey(viewer, "hidden"), (str(signal.clip_id),), ttl=STATE_TTL_S))
    moved = any(moves_feed(s.kind, s.watch_ms) for s in signals)
    if not writes and not moved:
        return False
    writes.append(Write("set", known_key(viewer), (b"1",), ttl=STATE_TTL_S))
    if moved:
        writes.append(Write("set", dirty_key(viewer), (str(time.time()).encode(),), ttl=DIRTY_TTL_S))
    try:
        await cache.write_many(writes)
    except Unavailable as exc:  # a hint for the next page: the worker's fold writes it again later
        log.warning("recs.session_note_skipped", viewer=viewer, error=str(exc))
        return False
    return moved
