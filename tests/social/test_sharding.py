"""With separate shard databases: likes, comments and inboxes land on the shard of their key,
their events still reach the log (the shard outbox relays), and reads find them."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
import sqlalchemy as sa

from clipfeed.infra.db import Base
from clipfeed.infra.db.moves import sharded_tables
from clipfeed.notifications.models import Notification
from clipfeed.social.models import Comment, Like
from tests.conftest import stack_settings
from tests.helpers import signup
from tests.social.support import caught_up, ready_clip, social_events, stream_role


@pytest.fixture
def settings(tmp_path, request):
    shards = [f"sqlite:///{tmp_path}/shard{n}.db" for n in range(2)]
    return stack_settings("embedded", tmp_path, request, database_shard_urls=shards, virtual_shards=64)


async def _rows(table, *, services) -> dict[int, int]:
    """Rows of ``table`` per shard database index (-1: the main database)."""
    counts = {}
    async with services.db.session() as session:
        counts[-1] = int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
    for index in range(services.db.shard_count):
        async with services.db.shard_session_at(index) as session:
            counts[index] = int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
    return counts


async def test_sharded_rows_live_on_their_shard_and_their_events_are_relayed(client, services, sqlite_template) -> None:
    creator = await signup(client, "creator")
    fans = [await signup(client, f"fan{n}") for n in range(12)]  # both shards get likes: all on one is 1 in 2,048
    clips = [await ready_clip(client, services, creator, caption=f"clip {n}") for n in range(4)]
    async with stream_role(services=services):
        for fan in fans:
            assert (await client.put(f"/v1/clips/{clips[0]}/like", headers=fan.auth)).status_code == 200
        for clip in clips:
            made = await client.post(f"/v1/clips/{clip}/comments", headers=fans[0].auth, json={"body": "nice"})
            assert made.status_code == 201
        likes, comments = await _rows(Like, services=services), await _rows(Comment, services=services)
        assert likes[-1] == 0 and likes[0] + likes[1] == len(fans) and likes[0] and likes[1]
        assert comments[-1] == 0 and comments[0] + comments[1] == 4
        deadline = time.monotonic() + 10
        while len(await social_events("like.added", "comment.created", services=services)) < len(fans) + 4:
            assert time.monotonic() < deadline, "shard outbox events were not relayed"
            await asyncio.sleep(0.1)
        await caught_up(services=services)
        seen = (await client.get(f"/v1/clips/{clips[0]}/engagement", headers=fans[3].auth)).json()
        assert seen["liked_by_me"] is True and seen["counts"]["likes"] == len(fans) and seen["counts"]["comments"] == 1
        inbox = (await client.get("/v1/notifications", headers=creator.auth)).json()
    assert sorted(n["kind"] for n in inbox["items"]) == ["clip_ready"] * 4 + ["comment"] * 4 + ["like"]
    assert (await _rows(Notification, services=services))[-1] == 0
    for clip in clips:
        assert len((await client.get(f"/v1/clips/{clip}/comments")).json()["items"]) == 1
    # every table with rows on a shard database declares its shard key: a shard move
    # (clipfeed.infra.db.moves) copies exactly the declared tables
    declared = set(sharded_tables()) | {"outbox"}
    with sqlite3.connect(sqlite_template) as fresh:  # rows the migrations seed everywhere
        seeded = {t.name: fresh.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()[0]
                  for t in Base.metadata.sorted_tables}
    for index in range(services.db.shard_count):
        async with services.db.shard_session_at(index) as session:
            for table in Base.metadata.sorted_tables:
                if await session.scalar(sa.select(sa.func.count()).select_from(table)) > seeded[table.name]:
                    assert table.name in declared, f"{table.name} has rows on shard database {index}"


async def test_comments_of_thousands_of_blocked_accounts_stay_out_on_a_shard_database(client, services) -> None:
    """The blocks live in the main database, the comments on a shard: the IDs travel as one value."""
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import User
    from clipfeed.infra.db import utcnow
    from clipfeed.social import comments
    from clipfeed.social.models import Block
    from clipfeed.social.schemas import CommentCreate
    from tests.social.support import largest_statement

    alice, carl, fran, nora = [await signup(client, name) for name in ("alice", "carl", "fran", "nora")]
    named = [{"id": services.ids.next_id(), "handle": f"named{n}", "role": "user"} for n in range(3000)]
    async with services.db.session() as session:
        await session.execute(sa.insert(User), named)
        await session.execute(sa.insert(Block), [{"blocker_id": alice.id, "blocked_id": row["id"],
                                                  "id": services.ids.next_id(), "created_at": utcnow()}
                                                 for row in named])
    assert (await client.put(f"/v1/users/{nora.id}/block", headers=alice.auth)).status_code == 200
    clip = await ready_clip(client, services, carl, caption="on a shard")
    users = await accounts.get_many(db=services.db, user_ids=[fran.id, nora.id])
    for who in (fran, nora):
        await comments.create(services=services, user=users[who.id], clip_id=int(clip),
                              request=CommentCreate(body=who.handle))
    with largest_statement(services) as counts:
        seen = (await client.get(f"/v1/clips/{clip}/comments", headers=alice.auth)).json()["items"]
    assert [c["body"] for c in seen] == ["fran"]
    assert max(counts) < 50, max(counts)
    everyone = (await client.get(f"/v1/clips/{clip}/comments")).json()["items"]
    assert sorted(c["body"] for c in everyone) == ["fran", "nora"]
