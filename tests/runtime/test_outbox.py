"""The transactional outbox: events go out after commit, never for a rolled-back change,
and survive a process that dies between commit and publish."""

from __future__ import annotations

import asyncio

import pytest

from clipfeed.core.contract import EventType, Payload
from clipfeed.core.events import Event
from clipfeed.infra.db import Database, utcnow
from clipfeed.infra.log import TopicSpec
from clipfeed.runtime.outbox import Outbox, OutboxRow


class Thing(Payload):
    n: int


THING_MADE = EventType("thing.made", "test.things", Thing)
ROLLED_BACK = EventType("x", "test.rollback", Thing)


async def _drain(topic: str, *, services) -> list[Event]:
    events = []
    for partition in range(await services.log.partitions(topic)):
        events += [Event.decode(r.value) for r in await services.log.read(topic, partition, from_offset=0)]
    return events


async def test_recorded_event_is_published_soon_after_commit(*, services) -> None:
    await services.log.ensure_topic(TopicSpec("test.things", partitions=2))
    async with services.db.session() as session:
        event = services.outbox.record(session, THING_MADE, key=42, payload=Thing(n=1))
    for _ in range(100):
        published = await _drain("test.things", services=services)
        if published:
            break
        await asyncio.sleep(0.05)
    assert [e.id for e in published] == [event.id]
    assert published[0].payload == {"n": 1} and published[0].key == "42"


async def test_rolled_back_change_publishes_nothing(*, services) -> None:
    with pytest.raises(RuntimeError):
        async with services.db.session() as session:
            services.outbox.record(session, ROLLED_BACK, key=1, payload=Thing(n=0))
            raise RuntimeError("boom")
    assert await services.outbox.flush() == 0


async def test_event_left_by_a_dead_relay_is_published_by_another(*, services) -> None:
    # A relay claimed a row and died before appending it: the claim has lapsed.
    async with services.db.session() as session:
        event = Event(id=services.ids.next_id(), type="orphan", key="7")
        session.add(OutboxRow(id=event.id, topic="test.orphans", key="7", body=event.encode(),
                              created_at=utcnow(), claimed_until=utcnow(), claimed_by="dead-relay"))
    other = Outbox(db=services.db, log=services.log, ids=services.ids, region="local")
    assert await other.flush() == 1
    assert [e.id for e in await _drain("test.orphans", services=services)] == [event.id]
    assert await other.flush() == 0


async def test_relays_racing_over_the_same_rows_publish_each_event_once(*, services) -> None:
    # Several relays (as in several serving processes) wake on the same commit: each row
    # must be claimed by exactly one of them, or consumers see the event twice.
    await services.log.ensure_topic(TopicSpec("test.race", partitions=1))
    # Rows written directly (no commit hook), so the racing relays below find them all free;
    # the services' own background relay may join the race, which is fine.
    recorded = [Event(id=services.ids.next_id(), type="raced", key=str(n)) for n in range(300)]
    async with services.db.session() as session:
        session.add_all(OutboxRow(id=e.id, topic="test.race", key=e.key, body=e.encode(),
                                  created_at=utcnow()) for e in recorded)
    # Each relay with its own connection pool, as relays in separate processes have.
    databases = [Database(services.db.url) for _ in range(6)]
    relays = [Outbox(db=db, log=services.log, ids=services.ids, region="local") for db in databases]
    try:
        await asyncio.gather(*(relay.flush(limit=20) for relay in relays))
    finally:
        for db in databases:
            await db.close()
    published = [e.id for e in await _drain("test.race", services=services)]
    duplicates = len(published) - len(set(published))
    assert duplicates == 0, f"{duplicates} events published twice"
    assert sorted(published) == sorted(e.id for e in recorded)


async def test_rows_a_refused_flush_had_claimed_are_free_again_at_once(*, services, nats_url: str) -> None:
    """A relay whose log is down gives its claim back, so a relay that can publish (or the same
    one once the log is back) does so at once instead of after the 30 s claim lapses."""
    from urllib.parse import urlsplit

    from clipfeed.core.errors import Unavailable
    from clipfeed.infra.log.jetstream.log import JetStreamEventLog
    from tests import services as engines
    from tests.tcp_proxy import TcpProxy

    relay = next(t for t in services.background if t.get_name() == "outbox-relay")
    relay.cancel()  # the services' own relay would otherwise race the refused one for the row
    await asyncio.gather(relay, return_exceptions=True)
    async with services.db.session() as session:
        event = Event(id=services.ids.next_id(), type="stranded", key="9")
        session.add(OutboxRow(id=event.id, topic="test.stranded", key="9", body=event.encode(), created_at=utcnow()))
    proxy = await TcpProxy(urlsplit(nats_url).port or 4222).start()
    prefix = f"t{services.ids.next_id()}"
    down = await JetStreamEventLog.open(f"nats://127.0.0.1:{proxy.port}?prefix={prefix}")
    try:
        proxy.drop_next = 10**9
        proxy.cut()
        for _ in range(600):
            if not down.nc.is_connected:
                break
            await asyncio.sleep(0.05)
        refused = Outbox(db=services.db, log=down, ids=services.ids, region="local")
        with pytest.raises(Unavailable):
            await refused.flush()
        async with services.db.session() as session:
            row = await session.get(OutboxRow, event.id)
        assert row is not None and row.claimed_by is None and row.claimed_until is None
        working = Outbox(db=services.db, log=services.log, ids=services.ids, region="local")
        assert await working.flush() >= 1
        assert event.id in [e.id for e in await _drain("test.stranded", services=services)]
    finally:
        await down.close()
        await proxy.close()
        await engines.drop_jetstream_streams(nats_url, prefix=prefix)
