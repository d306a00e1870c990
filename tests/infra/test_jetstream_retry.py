"""The JetStream adapter repeats API calls that may be repeated when they time out (a busy box
can miss a deadline). A bare publish is never repeated; the adapter's appends repeat theirs
under the same message ID, which the server stores once. The JetStream client is nats-py's,
which we do not own: stand-ins that time out or lose answers on cue play it here (the last
test against a real server)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats.errors
import pytest

from clipfeed.infra.log import OutgoingRecord, TopicSpec, open_event_log
from clipfeed.infra.log.jetstream import log as jetstream_log
from clipfeed.infra.log.jetstream.log import MESSAGE_ID
from clipfeed.infra.log.jetstream.retry import ATTEMPTS, PatientJetStream
from tests import services as engines


class SlowJetStream:
    def __init__(self, timeouts: int) -> None:
        self.timeouts = timeouts
        self.calls: dict[str, int] = {}

    async def _answer(self, name: str) -> str:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.calls[name] <= self.timeouts:
            raise nats.errors.TimeoutError
        return f"{name} answered"

    async def stream_info(self, name: str) -> str:
        return await self._answer("stream_info")

    async def publish(self, subject: str, payload: bytes) -> str:
        return await self._answer("publish")


async def test_a_stream_lookup_that_times_out_is_asked_again() -> None:
    slow = SlowJetStream(timeouts=ATTEMPTS - 1)
    assert await PatientJetStream(slow).stream_info("s") == "stream_info answered"
    assert slow.calls["stream_info"] == ATTEMPTS


async def test_a_lookup_that_keeps_timing_out_fails_after_the_last_attempt() -> None:
    slow = SlowJetStream(timeouts=ATTEMPTS)
    with pytest.raises(nats.errors.TimeoutError):
        await PatientJetStream(slow).stream_info("s")
    assert slow.calls["stream_info"] == ATTEMPTS


async def test_a_publish_that_times_out_is_not_repeated() -> None:
    slow = SlowJetStream(timeouts=1)
    with pytest.raises(nats.errors.TimeoutError):
        await PatientJetStream(slow).publish("subject", b"x")
    assert slow.calls["publish"] == 1


class AckLosingJetStream:
    """The real JetStream client, except that the first answer to each message is lost: the
    server stores the record, the adapter never hears so (an acknowledgement that missed its
    deadline on a loaded box)."""

    def __init__(self, js: Any) -> None:
        self._js = js
        self.published: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)

    async def publish_async(self, subject: str, payload: bytes, **kwargs: Any) -> asyncio.Future[Any]:
        message_id = kwargs["headers"][MESSAGE_ID]
        self.published[message_id] = self.published.get(message_id, 0) + 1
        answer = await self._js.publish_async(subject, payload, **kwargs)
        if self.published[message_id] > 1:
            return answer
        await answer  # stored on the server...
        return asyncio.get_running_loop().create_future()  # ...and the acknowledgement lost


async def test_a_publish_whose_acknowledgement_is_lost_is_repeated_and_stored_once(
        nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jetstream_log, "API_TIMEOUT_S", 0.5)  # the lost answers' deadline
    prefix = f"t{uuid.uuid4().hex[:10]}"
    event_log = await open_event_log(f"{nats_url}?prefix={prefix}")
    assert isinstance(event_log, jetstream_log.JetStreamEventLog)
    try:
        await event_log.ensure_topic(TopicSpec("retried", partitions=1))
        losing = AckLosingJetStream(event_log.js)
        event_log.js = losing  # type: ignore[assignment]
        positions = await event_log.append_batch("retried", [OutgoingRecord(value=b"a"), OutgoingRecord(value=b"b")])
        single = await event_log.append("retried", b"c")
        assert sorted(losing.published.values()) == [2, 2, 2]  # each sent twice...
        stored = await event_log.read("retried", 0, from_offset=0)
        assert [r.value for r in stored] == [b"a", b"b", b"c"]  # ...and stored once
        assert [p.offset for p in [*positions, single]] == [r.offset for r in stored]
    finally:
        await event_log.close()
        await engines.drop_jetstream_streams(nats_url, prefix=prefix)
