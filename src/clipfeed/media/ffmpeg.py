"""Running FFmpeg: a subprocess that dies with us, progress from ``-progress``, and a
report of what its log said (decode errors, black/frozen/silent spans, loudness).

CPU-heavy work happens in the child process, so the worker's event loop stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

ProgressCallback = Callable[[float], Awaitable[None]]  # seconds of output written so far


class FFmpegError(Exception):
    """FFmpeg exited with an error; ``tail`` holds the last lines of its log."""

    def __init__(self, message: str, tail: list[str], returncode: int = 1) -> None:
        super().__init__(message)
        self.tail = tail
        self.returncode = returncode

    @property
    def input_at_fault(self) -> bool:
        """FFmpeg gave up on the input (not killed, not out of disk or memory): retrying the
        same file cannot help. Stopped by a signal it caught (SIGTERM to the worker's process
        group on a deploy), FFmpeg exits 255 and says so: not the input's fault either."""
        trouble = ("No space left", "Cannot allocate memory", "Resource temporarily unavailable",
                   "received signal")
        return self.returncode > 0 and not any(t in line for line in self.tail for t in trouble)


ENCODER_NICENESS = 10


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # A worker killed with SIGKILL must not leave its encoder running on: the job's retry
    # would compete with it for the CPU.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    below_the_api()


def below_the_api() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Encoders are batch work: at a lower CPU priority they use every idle cycle but yield
    to the API's event loop (in-process workers share the machine, often the process)."""
    with contextlib.suppress(OSError):
        os.nice(ENCODER_NICENESS)


@dataclass
class Report:
    """What one FFmpeg run said about its input, parsed from the log."""

    out_time: float = 0.0          # seconds of output written
    errors: list[str] = field(default_factory=list)   # error-level lines (decode damage)
    black_s: float = 0.0
    frozen_s: float = 0.0
    silent_s: float = 0.0
    loudness_lufs: float | None = None
    peak_dbfs: float | None = None
    log_tail: list[str] = field(default_factory=list)


_LEVEL = re.compile(r"^(?:\[[^\]]+ @ 0x[0-9a-f]+\] )?\[(\w+)\] (.*)$")
_BLACK = re.compile(r"black_duration:\s*([0-9.]+)")
_FROZEN = re.compile(r"freezedetect\.freeze_duration:\s*([0-9.]+)")
_FROZEN_START = re.compile(r"freezedetect\.freeze_start:\s*([0-9.]+)")
_SILENT = re.compile(r"silence_duration:\s*([0-9.]+)")
_SILENCE_START = re.compile(r"silence_start:\s*(-?[0-9.]+)")
_LOUDNESS = re.compile(r"^\s*I:\s*(-?[0-9.]+|-inf)\s*LUFS")
_PEAK = re.compile(r"^\s*Peak:\s*(-?[0-9.]+|-inf)\s*dBFS")
# Error lines that say nothing about the input's health.
_BENIGN = ("non monotonically increasing dts", "Error while filtering: Immediate exit requested",
           "Last message repeated")


def parse_log(lines: list[str], *, duration: float | None = None) -> Report:
    report = Report(log_tail=lines[-15:])
    open_silence: float | None = None
    open_freeze: float | None = None
    in_summary = False
    started = False  # errors before "Input #0" come from probing the file, and repeat in the decode
    for raw in lines:
        tagged = _LEVEL.match(raw)
        level, line = (tagged.group(1), tagged.group(2)) if tagged else ("", raw)
        if line.startswith("Input #"):
            started = True
        if level in ("error", "fatal"):
            if started and not any(b in line for b in _BENIGN):
                report.errors.append(line.strip())
            continue
        if match := _BLACK.search(line):
            report.black_s += float(match.group(1))
        elif match := _FROZEN.search(line):
            report.frozen_s += float(match.group(1))
            open_freeze = None
        elif match := _FROZEN_START.search(line):
            open_freeze = float(match.group(1))
        elif match := _SILENT.search(line):
            report.silent_s += float(match.group(1))
            open_silence = None
        elif match := _SILENCE_START.search(line):
            open_silence = max(0.0, float(match.group(1)))
        elif "Summary:" in line:
            in_summary = True
        elif in_summary and (match := _LOUDNESS.match(line)):
            report.loudness_lufs = None if match.group(1) == "-inf" else float(match.group(1))
        elif in_summary and (match := _PEAK.match(line)):
            report.peak_dbfs = None if match.group(1) == "-inf" else float(match.group(1))
    # Silence or a freeze running to the end is never closed by the filter.
    if open_silence is not None and duration:
        report.silent_s += max(0.0, duration - open_silence)
    if open_freeze is not None and duration:
        report.frozen_s += max(0.0, duration - open_freeze)
    return report


async def run(args: list[str], *, on_progress: ProgressCallback | None = None, timeout: float = 3600.0,
              duration: float | None = None) -> Report:
    """Run ``ffmpeg`` with ``args`` (inputs, filters, outputs); raise ``FFmpegError`` on failure.
    ``on_progress`` gets the seconds of output written, about twice a second."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info", "-y",
           "-progress", "pipe:1", "-stats_period", "0.5", *args]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent)
    assert proc.stdout is not None and proc.stderr is not None
    log_lines: list[str] = []
    out_time = 0.0

    async def read_progress() -> None:
        nonlocal out_time
        assert proc.stdout is not None
        async for raw in proc.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                out_time = max(out_time, int(value) / 1e6)
            elif key == "progress" and on_progress is not None:
                await on_progress(out_time)

    async def read_log() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            log_lines.append(raw.decode(errors="replace").rstrip())

    readers = asyncio.gather(read_progress(), read_log())
    try:
        await asyncio.wait_for(asyncio.shield(readers), timeout)
        code = await proc.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        readers.cancel()
        with contextlib.suppress(BaseException):
            await readers
        raise
    # A long encode logs thousands of lines; parsing them is CPU work for a thread.
    report = await asyncio.to_thread(parse_log, log_lines, duration=duration)
    report.out_time = out_time
    if code != 0:
        errors = report.errors or report.log_tail
        raise FFmpegError(f"ffmpeg exited with {code}: {errors[-1] if errors else 'no message'}",
                          report.log_tail, code)
    return report
