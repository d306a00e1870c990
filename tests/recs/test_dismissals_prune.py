"""Expired dismissals are deleted by the lifecycle role, batch by batch, on every shard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from clipfeed.recs.dismissals_prune import prune_expired, prune_loop
from clipfeed.recs.models import Dismissal
from clipfeed.workers import ROLES


async def _rows(services, user_ids) -> set[tuple[int, str, int]]:
    found = set()
    for user_id in user_ids:
        async with services.db.shard_session(user_id) as session:
            found |= {tuple(r) for r in (await session.execute(
                sa.select(Dismissal.user_id, Dismissal.kind, Dismissal.subject_id)
                .where(Dismissal.user_id == user_id))).all()}
    return found


async def test_expired_dismissals_are_pruned_in_batches_and_live_ones_kept(services) -> None:
    now = datetime.now(UTC)
    users = [services.ids.next_id() for _ in range(4)]  # spread over the shards there are
    live, expired = set(), set()
    for user_id in users:
        async with services.db.shard_session(user_id) as session:
            for n in range(5):
                kind = "clip" if n % 2 else "creator"
                ends = now + timedelta(days=1) if n == 0 else now - timedelta(minutes=n)
                session.add(Dismissal(user_id=user_id, kind=kind, subject_id=1000 + n,
                                      created_at=ends - timedelta(days=30), expires_at=ends))
                (live if n == 0 else expired).add((user_id, kind, 1000 + n))
    assert await prune_expired(services=services, batch=3) == len(expired)
    assert await _rows(services, users) == live
    assert await prune_expired(services=services, batch=3) == 0  # a second pass finds nothing to do


def test_the_lifecycle_role_prunes_dismissals() -> None:
    assert prune_loop in ROLES["lifecycle"].loops
