"""``POST /v1/events`` while the event log is unreachable (real stack; NATS behind a proxy that
stops letting connections through): the batch is accepted and kept in the outbox, and reaches
the log once it is back, each event once."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import urlsplit

import httpx
import orjson
import sqlalchemy as sa

from clipfeed.core.contract import Topic
from clipfeed.runtime.outbox import OutboxRow
from tests import services as engines
from tests.conftest import stack_settings
from tests.helpers import signup
from tests.stream.pipeline import event
from tests.tcp_proxy import TcpProxy


async def _published_clips(services) -> list[str]:
    ids = []
    for partition in range(await services.log.partitions(Topic.ACTIVITY_CLIPS)):
        ids += [orjson.loads(r.value)["id"] for r in await services.log.read(Topic.ACTIVITY_CLIPS, partition,
                                                                               from_offset=0)]
    return ids


async def test_events_are_kept_in_the_outbox_while_the_log_is_down_and_published_once_it_is_back(
        tmp_path, request, nats_url: str) -> None:
    from clipfeed.api import create_app
    from clipfeed.bootstrap import bootstrap

    proxy = await TcpProxy(urlsplit(nats_url).port or 4222).start()
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = stack_settings("real", tmp_path, request, log_url=f"nats://127.0.0.1:{proxy.port}?prefix={prefix}",
                              breaker_failures=1, breaker_open_s=0.5)
    services = await bootstrap(settings)
    app = create_app(services=services)
    try:
        async with (app.router.lifespan_context(app),
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                      timeout=60) as client):
            viewer = await signup(client, "viewer")
            before = await client.post("/v1/events", headers=viewer.auth,
                                       json={"events": [event("play_start", 7, time.time())]})
            assert before.json()["accepted"] == 1

            proxy.drop_next = 10**9  # nothing gets through any more
            proxy.cut()
            for _ in range(200):
                if not services.log.nc.is_connected:
                    break
                await asyncio.sleep(0.05)
            down = [event("play_start", 8, time.time()), event("complete", 8, time.time(), watch_ms=5000,
                                                                duration_ms=5000)]
            answer = await client.post("/v1/events", headers=viewer.auth, json={"events": down})
            assert answer.status_code == 200 and answer.json()["accepted"] == 2, answer.text
            async with services.db.session() as session:
                kept = (await session.execute(sa.select(OutboxRow.topic).where(
                    OutboxRow.topic.in_([Topic.ACTIVITY_CLIPS, Topic.ACTIVITY_USERS])))).scalars().all()
            assert sorted(kept) == sorted([Topic.ACTIVITY_CLIPS] * 2 + [Topic.ACTIVITY_USERS] * 2)

            proxy.drop_next = 0  # the log is back: the client reconnects, the relay publishes
            left = -1
            for _ in range(300):
                async with services.db.session() as session:
                    left = await session.scalar(sa.select(sa.func.count()).select_from(OutboxRow).where(
                        OutboxRow.topic.in_([Topic.ACTIVITY_CLIPS, Topic.ACTIVITY_USERS])))
                if left == 0:
                    break
                await asyncio.sleep(0.1)
            assert left == 0
            # Every event is in the log. The client may also have sent its first attempt once
            # reconnected (nats-py keeps what it could not send): such a copy has the same
            # envelope ID, which the consumers drop.
            published = await _published_clips(services)
            assert len(set(published)) == 3, published
    finally:
        await services.close()
        await proxy.close()
        await engines.drop_jetstream_streams(nats_url, prefix=prefix)
