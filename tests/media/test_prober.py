"""The warm prober: uploads are read by PyAV outside the serving process, and whatever the
child does — dies mid-read, hangs past the timeout — the caller gets a verdict in words and
the next upload a fresh prober."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from clipfeed.media import prober
from clipfeed.media.probe import ProbeError
from tests.services import shared_media

SAMPLE = shared_media() / "bigbuckbunny.mp4"


def _child() -> int:
    current = prober._current
    assert current is not None and current.alive()
    return current.process.pid


@pytest.fixture(autouse=True)
def fresh_prober():
    prober.stop()
    yield
    prober.stop()


async def test_reads_happen_in_one_warm_child_with_its_memory_capped() -> None:
    first = await prober.probe(SAMPLE)
    assert first.video[0].codec == "h264" and first.duration > 5
    child = _child()
    assert child != os.getpid()
    assert (await prober.probe(SAMPLE)) == first and _child() == child  # the same process, kept warm
    limits = Path(f"/proc/{child}/limits").read_text()
    assert f"{prober.MEMORY_LIMIT}" in next(line for line in limits.splitlines() if "address space" in line)


async def test_a_child_killed_mid_read_leaves_a_verdict_and_a_new_child(tmp_path: Path) -> None:
    prober.warm()
    child = _child()
    stuck = tmp_path / "never-written"
    os.mkfifo(stuck)  # opening it blocks the reader: a read that never ends by itself
    reading = asyncio.ensure_future(prober.probe(stuck, timeout=3.0))
    await asyncio.sleep(0.5)
    os.kill(child, signal.SIGKILL)
    with pytest.raises(ProbeError):  # ffprobe decides this file (and gives up on it in time)
        await reading
    again = await prober.probe(SAMPLE)
    assert again.video[0].codec == "h264" and _child() != child


async def test_a_read_past_its_timeout_is_refused_and_its_child_ended(tmp_path: Path) -> None:
    prober.warm()
    child = _child()
    stuck = tmp_path / "never-written"
    os.mkfifo(stuck)
    with pytest.raises(ProbeError, match="took too long"):
        await prober.probe(stuck, timeout=1.0)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert (await prober.probe(SAMPLE)).video[0].codec == "h264" and _child() != child


async def test_a_prober_that_will_not_start_leaves_the_verdict_to_ffprobe(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: object) -> None:
        raise OSError("no processes left")

    monkeypatch.setattr(prober._Prober, "__init__", refuse)
    prober.warm()  # logged, not raised
    assert (await prober.probe(SAMPLE)).video[0].codec == "h264"  # ffprobe's reading
    assert prober._current is None
