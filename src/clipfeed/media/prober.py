"""The warm prober: one child process per serving process that reads uploads with PyAV
(``pyav_probe.read``) and answers in JSON lines; ``probe`` is upload validation's reader.

Why a process: an upload is a file from anyone, and FFmpeg's demuxers and decoders are C. Read
inside the API process, a crash on a crafted file would take every request in flight with it,
and a memory bug would sit next to the signing keys; ffprobe kept that apart by being its own
process, at 80-90 ms of start-up a file. The prober keeps the separation and pays the start-up
once. Its address space is capped (``MEMORY_LIMIT``) and it has no stdout but the answers.

What happens when it fails:

* it dies mid-read (a crash, the memory cap, a kill): that file is handed to ffprobe, whose
  verdict stands, and the next read starts a new prober;
* it outlasts the read's timeout: it is killed, the file is refused as taking too long (as
  with ffprobe), and the next read starts a new one;
* the serving process dies: the prober reads the end of its input and exits.

One read at a time per serving process (a lock): a read takes 1-40 ms, and uploads finish far
less often than that. The protocol is a JSON line each way: ``{"path", "timeout"}``, then
``{"probe": …}``, ``{"refused": reason}`` or ``{"ffprobe": why}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import resource
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import structlog

from clipfeed.media import probe as ffprobe
from clipfeed.media.probe import AudioStream, NeedsFfprobe, Probe, ProbeError, VideoStream

MEMORY_LIMIT = 2 * 1024**3  # bytes of address space the prober may map
START_TIMEOUT_S = 30.0  # a fresh prober's import of PyAV, on a busy machine


class _Prober:
    """The child process and its pipes; used under ``_LOCK`` from worker threads."""

    def __init__(self) -> None:
        self.owner = os.getpid()  # a forked serving process starts its own
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clipfeed.media.prober"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, close_fds=True)
        ready = self._line(START_TIMEOUT_S)
        if ready != {"ready": True}:
            self.stop()
            raise RuntimeError("the prober did not start")

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def ask(self, path: Path, timeout: float) -> dict[str, Any] | None:
        """The answer, or None if the prober died first."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"path": str(path), "timeout": timeout}).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        return self._line(timeout)

    def _line(self, timeout: float) -> dict[str, Any] | None:
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        if not ready:
            self.stop()
            raise TimeoutError
        line = stdout.readline()  # one line, written and flushed whole
        if not line:
            self.stop()
            return None
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


_LOCK = threading.Lock()
_current: _Prober | None = None


def _started() -> _Prober:
    """This process's prober, started if it has none or it died (call under ``_LOCK``)."""
    global _current
    if _current is None or not _current.alive():
        if _current is not None and _current.owner == os.getpid():
            _current.stop()  # reaped, its pipes closed
        _current = None
        _current = _Prober()
    return _current


def read(path: Path, *, timeout: float) -> Probe:
    """``pyav_probe.read`` of ``path`` in the prober (blocking: call it in a thread);
    ``ProbeError`` when FFmpeg cannot read it or not within ``timeout``, ``NeedsFfprobe`` when
    ffprobe must decide (PyAV cannot say for certain, the prober died on this file or would
    not start)."""
    global _current
    started = time.monotonic()
    with _LOCK:
        try:
            prober = _started()
        except (OSError, RuntimeError, TimeoutError, ValueError) as exc:
            raise NeedsFfprobe(f"the prober did not start: {exc}") from None
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            raise ProbeError("reading the file took too long")
        try:
            answer = prober.ask(path, left)
        except TimeoutError:
            _current = None
            raise ProbeError("reading the file took too long") from None
        except ValueError:  # not a JSON line: treated as a prober that died
            prober.stop()
            answer = None
        if answer is None:
            _current = None
            raise NeedsFfprobe("the prober stopped on this file")
    if "refused" in answer:
        raise ProbeError(str(answer["refused"]))
    if "ffprobe" in answer:
        raise NeedsFfprobe(str(answer["ffprobe"]))
    found = answer["probe"]
    return Probe(**{**found, "video": [VideoStream(**v) for v in found["video"]],
                    "audio": [AudioStream(**a) for a in found["audio"]]})


async def probe(path: Path, *, timeout: float = 60.0) -> Probe:
    """ffprobe's view of ``path`` (``clipfeed.media.probe.probe``), read by PyAV in the prober
    when it can give it for certain, else by ffprobe; ``ProbeError`` when FFmpeg cannot read
    it, or not within ``timeout``."""
    started = time.monotonic()
    try:
        return await asyncio.to_thread(read, path, timeout=timeout)
    except NeedsFfprobe:
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            raise ProbeError("reading the file took too long") from None
        return await ffprobe.probe(path, timeout=left)


def warm() -> None:
    """Start this process's prober now, so that the first upload does not wait for it. A
    prober that does not start is tried again by the first read."""
    with _LOCK:
        try:
            _started()
        except (OSError, RuntimeError, TimeoutError, ValueError) as exc:
            structlog.get_logger(__name__).warning("prober.not_started", error=str(exc))


def stop() -> None:
    """End this process's prober (tests; a serving process's ends with it)."""
    global _current
    with _LOCK:
        if _current is not None and _current.owner == os.getpid():
            _current.stop()
        _current = None


def _serve() -> None:
    """The child's loop: a request line in, an answer line out, until the input ends."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    from clipfeed.media.pyav_probe import read as read_here

    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the pipe

    def answer(value: dict[str, Any]) -> None:
        out.write(json.dumps(value).encode() + b"\n")
        out.flush()

    answer({"ready": True})
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            found = read_here(Path(request["path"]), timeout=float(request["timeout"]))
        except ProbeError as exc:
            answer({"refused": str(exc)})
        except NeedsFfprobe as exc:
            answer({"ffprobe": str(exc)})
        except Exception as exc:  # PyAV failed in a way not foreseen: ffprobe decides
            answer({"ffprobe": f"{type(exc).__name__}: {exc}"})
        else:
            answer({"probe": dataclasses.asdict(found)})


if __name__ == "__main__":
    _serve()
