"""Event log on NATS JetStream: what operators run at scale.

Layout: one stream per topic (``<prefix>_<topic with dots as underscores>``), capturing the
subjects ``<prefix>.<topic>.<partition>``; file storage, ``max_age``/``max_bytes`` limits with
the oldest messages discarded. Offsets are stream sequence numbers, so they increase within a
partition but skip the numbers other partitions took. The record key travels in a header.

The stream's description holds the topic name and partition count: it is how the partition
count survives restarts, and it catches two topics that would map to the same stream name.

Appends, replays and pings go through the servers' circuit breaker (``clipfeed.infra.breaker``):
after a few of them failed in a row, they fail at once (``Unavailable``) instead of each
waiting out its acknowledgement timeouts, until a trial call gets through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext, api

from clipfeed.core.errors import Conflict, Invalid, NotFound, Unavailable
from clipfeed.infra.breaker import BREAKERS, BreakerOpen
from clipfeed.infra.log import OutgoingRecord, Position, Record, TopicSpec, partition_for
from clipfeed.infra.log.jetstream.errors import translated
from clipfeed.infra.log.jetstream.layout import (
    StreamRef,
    encode_headers,
    first_unacked,
    max_age_seconds,
    partition_consumer,
    shared_consumer,
    start_config,
    to_record,
)
from clipfeed.infra.log.jetstream.pull import Puller
from clipfeed.infra.log.jetstream.retry import ATTEMPTS, RETRIED, PatientJetStream, pause_s
from clipfeed.infra.log.names import check_group, check_topic

if TYPE_CHECKING:
    from clipfeed.infra.log.jetstream.consumer import JetStreamConsumer

log = logging.getLogger(__name__)

# The first connection's bound, for a server that answers slowly (a loaded machine took over
# 3 s to complete the handshake). A port that refuses fails at once (see ``_reachable``).
CONNECT_TIMEOUT_S = 5
API_TIMEOUT_S = 5.0
# JetStream's own header: publishes with the same ID within the duplicate window are stored once.
MESSAGE_ID = "Nats-Msg-Id"


async def _reachable(servers: list[str]) -> bool:
    """Whether any of ``servers`` accepts a TCP connection. nats-py retries a refused port until
    its bound runs out; a refused port is a clear answer, so it is asked first."""
    for server in servers:
        parts = urlsplit(server)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port or 4222),
                                               CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError):
            continue
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return True
    return False


class JetStreamEventLog:
    """``nats://host:4222[,host2:4222][?prefix=clipfeed]``."""

    def __init__(self, nc: Client, prefix: str, url: str) -> None:
        self.url = url
        self.nc = nc
        # Idempotent API calls retried on a timeout (see ``retry``); publishes are not.
        self.js: JetStreamContext = cast(JetStreamContext, PatientJetStream(nc.jetstream(timeout=API_TIMEOUT_S)))
        self.prefix = prefix
        servers = ",".join(host.rsplit("@", 1)[-1] for host in urlsplit(url).netloc.split(",") if host)
        self.breaker = BREAKERS.get("nats", servers or url)
        self._streams: dict[str, StreamRef] = {}
        self._round_robin: dict[str, int] = {}
        self._consumers: set[JetStreamConsumer] = set()

    @classmethod
    async def open(cls, url: str) -> JetStreamEventLog:
        parts = urlsplit(url)
        prefix = parse_qs(parts.query).get("prefix", ["clipfeed"])[0]
        check_group(prefix)  # a single subject token and a valid stream-name start
        servers = [f"{parts.scheme}://{host}" for host in parts.netloc.split(",") if host]
        nc = Client()

        async def quiet(exc: Exception) -> None:  # the adapter reports failures as exceptions
            log.debug("nats: %s", exc)

        if not await _reachable(servers):
            raise Unavailable(f"cannot connect to NATS at {', '.join(servers)}: no server accepts a connection")
        try:
            # Reconnect forever once connected (servers restart); bound only the first attempt.
            await asyncio.wait_for(nc.connect(servers, name="clipfeed", connect_timeout=CONNECT_TIMEOUT_S,
                                              reconnect_time_wait=1, max_reconnect_attempts=-1,
                                              error_cb=quiet), CONNECT_TIMEOUT_S + 1)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await nc.close()
            raise Unavailable(f"cannot connect to NATS at {', '.join(servers)}: {exc!r}") from exc
        return cls(nc, prefix, url)

    # -- topics and appends ----------------------------------------------------------------

    async def ensure_topic(self, spec: TopicSpec) -> None:
        await self.stream(spec.name, create=spec, update=True)

    async def append(self, topic: str, value: bytes, *, key: bytes | None = None,
                     headers: dict[str, str] | None = None) -> Position:
        return (await self.append_batch(topic, [OutgoingRecord(value=value, key=key, headers=headers or {})]))[0]

    @asynccontextmanager
    async def _guarded(self, action: str) -> AsyncIterator[None]:
        """Run a block of calls through the breaker; an open one raises ``Unavailable`` at once."""
        try:
            async with self.breaker.guard(lambda exc: isinstance(exc, Unavailable)):
                yield
        except BreakerOpen as err:
            raise Unavailable(f"{action}: {err}", retry_after=max(1, round(err.breaker.retry_in_s()))) from err

    async def append_batch(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        if not records:
            return []
        async with self._guarded(f"appending to {topic}"):
            return await self._append_batch(topic, records)

    async def _append_batch(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        ref = await self.stream(topic, create=TopicSpec(topic))
        start = self._next_turns(topic, len(records))
        partitions = [partition_for(r.key, ref.partitions, start + i) for i, r in enumerate(records)]
        # One message ID per record, the same in every attempt: the server drops a repeat.
        sent = [{**(encode_headers(r.key, r.headers) or {}), MESSAGE_ID: uuid.uuid4().hex} for r in records]
        acks: list[Any] = [None] * len(records)
        with translated(f"appending to {topic}"):
            for attempt in range(ATTEMPTS):
                if not self.nc.is_connected:
                    # nats-py would queue the publishes until it is back and each attempt would
                    # wait out its acknowledgements: the caller (the outbox, a redelivered batch)
                    # keeps the records better than a request held for 15 s.
                    raise Unavailable(f"appending to {topic}: the connection to NATS is down (reconnecting)")
                waiting = [i for i, ack in enumerate(acks) if not isinstance(ack, api.PubAck)]
                # Publish everything first, then wait: one round trip of latency for the batch.
                futures = [await self.js.publish_async(ref.subject(partitions[i]), records[i].value,
                                                       headers=sent[i], stream=ref.stream) for i in waiting]
                try:
                    answers = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True),
                                                     API_TIMEOUT_S + len(waiting) / 10_000)
                except TimeoutError as exc:
                    answers = [exc] * len(waiting)
                for i, answer in zip(waiting, answers, strict=True):
                    acks[i] = answer
                failures = [ack for ack in acks if not isinstance(ack, api.PubAck)]
                if not failures:
                    break
                if attempt == ATTEMPTS - 1 or not all(isinstance(f, RETRIED) for f in failures):
                    raise failures[0]
                await asyncio.sleep(pause_s(attempt))
        return [Position(p, ack.seq) for p, ack in zip(partitions, acks, strict=True)]

    # -- replay ----------------------------------------------------------------------------

    async def read(self, topic: str, partition: int, *, from_offset: int | None = None,
                   from_time: datetime | None = None, limit: int = 1000) -> list[Record]:
        if from_offset is not None and from_time is not None:
            raise Invalid("read from an offset or from a time, not both")
        ref = await self.stream(topic)
        if not 0 <= partition < ref.partitions:
            raise Invalid(f"topic {topic!r} has partitions 0..{ref.partitions - 1}, not {partition}")
        config = start_config(from_offset, from_time, filter_subject=ref.subject(partition),
                              ack_policy=api.AckPolicy.NONE, inactive_threshold=30.0, mem_storage=True)
        async with self._guarded(f"reading {topic}"):
            with translated(f"reading {topic}"):
                # An ephemeral consumer asked once without waiting: one round trip for the page.
                info = await self.js.add_consumer(ref.stream, config)
                puller = Puller(self.nc, ref.stream, info.name)
                await puller.start()
                try:
                    msgs = await puller.pull(limit, wait=0)
                finally:
                    await puller.stop()
                    with contextlib.suppress(Exception):
                        await self.js.delete_consumer(ref.stream, info.name)
        return [to_record(topic, msg) for msg in msgs]

    async def tail(self, topic: str) -> AsyncIterator[Record]:
        ref = await self.stream(topic, create=TopicSpec(topic))
        with translated(f"tailing {topic}"):
            # An ordered push consumer from "new": server-side flow control, no acks, and it
            # recreates itself after a gap, which suits best-effort live fan-out.
            sub = await self.js.subscribe(f"{ref.subject_prefix}.*", stream=ref.stream, ordered_consumer=True,
                                          deliver_policy=api.DeliverPolicy.NEW)

        async def records() -> AsyncIterator[Record]:
            try:
                while True:
                    with translated(f"tailing {topic}"):
                        msg = await sub.next_msg(timeout=None)
                    yield to_record(topic, msg)
            finally:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

        return records()

    async def partitions(self, topic: str) -> int:
        return (await self.stream(topic)).partitions

    async def end_offsets(self, topic: str) -> dict[int, int]:
        ref = await self.stream(topic)
        with translated(f"reading offsets of {topic}"):
            info = await self.js.stream_info(ref.stream)
        return dict.fromkeys(range(ref.partitions), info.state.last_seq + 1)

    # -- consumer groups -------------------------------------------------------------------

    async def consumer(self, topic: str, group: str, *, shared: bool = True, ack_wait: float = 30.0,
                       max_in_flight: int = 1000, member_id: str | None = None) -> JetStreamConsumer:
        from clipfeed.infra.log.jetstream.consumer import JetStreamConsumer

        check_group(group)
        if ack_wait <= 0 or max_in_flight < 1:
            raise Invalid("ack_wait must be positive and max_in_flight at least 1")
        ref = await self.stream(topic, create=TopicSpec(topic))
        member = JetStreamConsumer(self, ref, group, shared=shared, ack_wait=ack_wait,
                                   max_in_flight=max_in_flight, member_id=member_id)
        await member.start()
        self._consumers.add(member)
        return member

    async def committed(self, topic: str, group: str) -> dict[int, int]:
        ref = await self.stream(topic)
        with translated(f"reading offsets of group {group}"):
            first = (await self.js.stream_info(ref.stream)).state.first_seq
            shared = await self._consumer_info(ref, shared_consumer(group))
            if shared is not None:
                # One consumer spans all partitions: its position is a lower bound for each.
                return dict.fromkeys(range(ref.partitions), first_unacked(shared, first))
            out = {}
            for partition in range(ref.partitions):
                info = await self._consumer_info(ref, partition_consumer(group, partition))
                if info is None:
                    raise NotFound(f"no consumer group {group!r} on {topic!r}")
                out[partition] = first_unacked(info, first)
            return out

    async def seek_group(self, topic: str, group: str, *, to_offset: dict[int, int] | None = None,
                         to_time: datetime | None = None) -> None:
        if (to_offset is None) == (to_time is None):
            raise Invalid("seek a group to offsets or to a time")
        ref = await self.stream(topic)
        with translated(f"seeking group {group}"):
            shared = await self._consumer_info(ref, shared_consumer(group))
            if shared is not None:
                # A shared consumer has one position: the lowest asked for (others re-deliver).
                offset = None if to_offset is None else min(to_offset.values(), default=None)
                if to_time is not None or offset is not None:
                    await self._recreate(ref, shared, offset, to_time)
                return
            targets = range(ref.partitions) if to_offset is None else sorted(to_offset)
            for partition in targets:
                if not 0 <= partition < ref.partitions:
                    continue
                info = await self._consumer_info(ref, partition_consumer(group, partition))
                if info is None:
                    raise NotFound(f"no consumer group {group!r} on {topic!r}")
                await self._recreate(ref, info, None if to_offset is None else to_offset[partition], to_time)

    # -- upkeep ----------------------------------------------------------------------------

    async def enforce_retention(self) -> int:
        """JetStream applies ``max_age``/``max_bytes`` itself as records arrive and expire, so
        there is nothing to do here and nothing to count."""
        await self.ping()
        return 0

    async def ping(self) -> None:
        async with self._guarded("pinging NATS"):
            with translated("pinging NATS"):
                if not self.nc.is_connected:
                    raise Unavailable("not connected to NATS")
                await self.js.account_info()

    async def close(self) -> None:
        for member in list(self._consumers):
            with contextlib.suppress(Exception):
                await member.close()
        with contextlib.suppress(Exception):
            await self.nc.close()

    # -- shared with consumers -------------------------------------------------------------

    async def stream(self, topic: str, *, create: TopicSpec | None = None, update: bool = False) -> StreamRef:
        """The topic's stream, created from ``create`` when missing (or updated when ``update``)."""
        cached = self._streams.get(topic)
        if cached is not None and not update:
            return cached
        check_topic(topic)
        name = f"{self.prefix}_{topic.replace('.', '_')}"
        with translated(f"opening topic {topic}"):
            try:
                info = await self.js.stream_info(name)
            except nats.js.errors.NotFoundError:
                if create is None:
                    raise NotFound(f"no topic {topic!r}") from None
                info = await self._add_stream(name, create)
            described = json.loads(info.config.description or "{}")
            if described.get("topic") != topic:
                raise Conflict(f"stream {name} belongs to topic {described.get('topic')!r}, not {topic!r}")
            ref = StreamRef(topic, name, int(described["partitions"]), f"{self.prefix}.{topic}")
            if update and create is not None:
                config = info.config.evolve(max_age=max_age_seconds(create), max_bytes=create.max_bytes or -1)
                await self.js.update_stream(config)
        self._streams[topic] = ref
        return ref

    def forget(self, member: JetStreamConsumer) -> None:
        self._consumers.discard(member)

    async def _add_stream(self, name: str, spec: TopicSpec) -> api.StreamInfo:
        if spec.partitions < 1:
            raise Invalid("a topic needs at least one partition")
        config = api.StreamConfig(
            name=name, subjects=[f"{self.prefix}.{spec.name}.*"], storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS, discard=api.DiscardPolicy.OLD,
            max_age=max_age_seconds(spec), max_bytes=spec.max_bytes or -1,
            description=json.dumps({"topic": spec.name, "partitions": spec.partitions}))
        try:
            return await self.js.add_stream(config)
        except nats.js.errors.BadRequestError:
            # Another process created it first: use theirs (checked by the caller).
            return await self.js.stream_info(name)

    async def _consumer_info(self, ref: StreamRef, name: str) -> api.ConsumerInfo | None:
        try:
            return await self.js.consumer_info(ref.stream, name)
        except nats.js.errors.NotFoundError:
            return None

    async def _recreate(self, ref: StreamRef, info: api.ConsumerInfo, offset: int | None,
                        at: datetime | None) -> None:
        old = info.config
        config = start_config(offset, at, durable_name=info.name, filter_subject=old.filter_subject,
                              ack_policy=api.AckPolicy.EXPLICIT, ack_wait=old.ack_wait,
                              max_ack_pending=old.max_ack_pending)
        await self.js.delete_consumer(ref.stream, info.name)
        await self.js.add_consumer(ref.stream, config)

    def _next_turns(self, topic: str, count: int) -> int:
        start = self._round_robin.get(topic, 0)
        self._round_robin[topic] = start + count
        return start

