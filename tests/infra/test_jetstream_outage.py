"""The JetStream adapter while its connection to NATS is down (NATS behind ``tcp_proxy`` that
drops every connection): an append is refused at once instead of being queued by the client,
and nothing of a refused append turns up in the log once the connection is back (the caller
keeps the records; had the client queued them too, they would be stored twice)."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit

import pytest

from clipfeed.core.errors import Unavailable
from clipfeed.infra.log import TopicSpec
from clipfeed.infra.log.jetstream.log import JetStreamEventLog
from tests import services as engines
from tests.tcp_proxy import TcpProxy


async def _until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(600):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not {what} within 30 s")


async def test_an_append_while_disconnected_is_refused_and_leaves_nothing_behind(nats_url: str) -> None:
    proxy = await TcpProxy(urlsplit(nats_url).port or 4222).start()
    prefix = f"t{uuid.uuid4().hex[:10]}"
    log = await JetStreamEventLog.open(f"nats://127.0.0.1:{proxy.port}?prefix={prefix}")
    try:
        await log.ensure_topic(TopicSpec("outage", partitions=1))
        await log.append("outage", b"before")

        proxy.drop_next = 10**9  # reconnections are refused until the link is back
        proxy.cut()
        await _until(lambda: not log.nc.is_connected, "disconnected")
        with pytest.raises(Unavailable, match="connection to NATS is down"):
            await log.append("outage", b"while down")

        proxy.drop_next = 0
        await _until(lambda: log.nc.is_connected, "reconnected")
        await log.append("outage", b"after")
        assert [r.value for r in await log.read("outage", 0, from_offset=0)] == [b"before", b"after"]
    finally:
        await log.close()
        await proxy.close()
        await engines.drop_jetstream_streams(nats_url, prefix=prefix)
