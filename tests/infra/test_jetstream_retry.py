"""The JetStream adapter repeats API calls that may be repeated when they time out (a busy box
can miss a deadline) and never repeats a publish. The JetStream client is nats-py's, which we do
not own: a stand-in that times out on cue plays it here."""

from __future__ import annotations

import nats.errors
import pytest

from clipfeed.infra.log.jetstream.retry import ATTEMPTS, PatientJetStream


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
