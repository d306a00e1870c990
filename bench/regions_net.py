"""The network of ``bench/regions.py``: a network namespace per region and the link between them.

This machine's kernel has no ``netem`` (``CONFIG_NET_SCH_NETEM`` is not set), so each namespace
gets a TUN device and a delay line (``run_link``, a process of its own started by ``Link``:
``python bench/regions_net.py link NS_A NS_B --delay-ms 40``) carries every packet from one to
the other after the delay, both ways (a round trip costs twice that). A cut drops every packet,
those in flight included, as a failed WAN link does: nothing answers, nothing is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
NET = "10.77.0"
TUN = "cflink"
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
_LIBC = ctypes.CDLL(None, use_errno=True)


# --- namespaces --------------------------------------------------------------------------

def require_root() -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench/regions.py makes network namespaces and network devices: run it as root "
                         "(sudo .venv/bin/python bench/regions.py)")


def enter_netns(name: str) -> None:
    """Move the calling thread (only it) into the network namespace ``name``."""
    with open(f"/run/netns/{name}", "rb") as handle:
        if _LIBC.setns(handle.fileno(), CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")


def in_netns(name: str, work: Callable[[], Any]) -> Any:
    """``work()`` on a thread inside namespace ``name``."""
    with ThreadPoolExecutor(1, initializer=enter_netns, initargs=(name,)) as pool:
        return pool.submit(work).result()


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _namespace_pids(name: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    return [int(pid) for pid in done.stdout.split()] if done.returncode == 0 else []


def delete_namespace(name: str) -> None:
    """Kill what still runs inside ``name`` (ours: nothing else lives there), then delete it."""
    for pid in _namespace_pids(name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def clear_stale_namespaces() -> None:
    """Namespaces left by a run of this file that was killed outright (its pid is gone)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for match in re.finditer(r"^(cf-[ab]-(\d+))\b", listed, re.MULTILINE):
        if not Path(f"/proc/{match.group(2)}").exists():
            delete_namespace(match.group(1))


# --- the link: a delay line between the two TUN devices -------------------------------------

def _open_tun(netns: str) -> int:
    def attach() -> int:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", TUN.encode(), IFF_TUN | IFF_NO_PI))
        return fd
    return int(in_netns(netns, attach))


def run_link(ns_a: str, ns_b: str, delay_ms: float) -> None:
    """Carry packets between the regions' TUN devices, each after ``delay`` (commands on stdin:
    ``delay MS``, ``cut``, ``restore``, ``stats``; each answered on stdout, ``ok`` or the counts)."""
    # The link stands for the network: the processes it joins (and the machine's other work)
    # must not delay it. Real-time priority: it sleeps in select() between packets.
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (PermissionError, OSError):
        with contextlib.suppress(PermissionError):
            os.nice(-10)
    a, b = _open_tun(ns_a), _open_tun(ns_b)
    other = {a: b, b: a}
    waiting: dict[int, deque[tuple[float, bytes]]] = {a: deque(), b: deque()}
    delay, up = delay_ms / 1000, True
    # late_ms: the most a packet left after its time (how far the delay line itself lagged)
    counts: dict[str, float] = {"carried": 0, "dropped": 0, "write_errors": 0, "late_ms": 0.0, "stalled_ms": 0.0}
    control = sys.stdin.fileno()
    print("ready", flush=True)
    while True:
        due = [queue[0][0] for queue in waiting.values() if queue]
        timeout = max(0.0, min(due) - time.monotonic()) if due else 0.5
        asked = time.monotonic()
        readable, _, _ = select.select([a, b, control], [], [], timeout)
        now = time.monotonic()
        # stalled_ms: the longest the delay line itself did not run past its time
        counts["stalled_ms"] = max(counts["stalled_ms"], round(1000 * max(0.0, now - asked - timeout), 1))
        for fd in readable:
            if fd == control:
                command = sys.stdin.readline().split()
                if not command:
                    print(json.dumps(counts), file=sys.stderr, flush=True)
                    return
                if command[0] == "delay":
                    delay = float(command[1]) / 1000
                elif command[0] == "cut":
                    up = False
                    counts["dropped"] += sum(len(queue) for queue in waiting.values())
                    for queue in waiting.values():
                        queue.clear()
                elif command[0] == "restore":
                    up = True
                print(json.dumps(counts) if command[0] == "stats" else "ok", flush=True)
                continue
            while True:
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if up:
                    waiting[fd].append((now + delay, packet))
                else:
                    counts["dropped"] += 1
        now = time.monotonic()
        for fd, queue in waiting.items():
            while queue and queue[0][0] <= now:
                at, packet = queue.popleft()
                counts["late_ms"] = max(counts["late_ms"], round(1000 * (now - at), 1))
                try:
                    os.write(other[fd], packet)
                    counts["carried"] += 1
                except OSError:
                    counts["write_errors"] += 1


class Link:
    """The delay line's process, driven through its stdin."""

    def __init__(self, ns_a: str, ns_b: str, delay_ms: float, log: Path) -> None:
        self.delay_ms, self.namespaces = delay_ms, (ns_a, ns_b)
        with open(log, "ab") as errors:
            self.proc = subprocess.Popen([sys.executable, str(HERE), "link", ns_a, ns_b, "--delay-ms", str(delay_ms)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)
        self._expect("ready")

    def _expect(self, word: str) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != word:
            raise RuntimeError(f"the link answered {line!r}, not {word!r} (see its log)")

    def _say(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        self._expect("ok")

    def set_delay(self, ms: float) -> None:
        self._say(f"delay {ms}")
        self.delay_ms = ms

    def cut(self) -> None:
        self._say("cut")

    def restore(self) -> None:
        self._say("restore")

    def stats(self) -> dict[str, float]:
        """Packets carried and dropped (by a cut) so far, the most a packet left late and the
        longest the delay line did not run past its time (ms), and packets the TUN devices
        dropped before the delay line read them (their queue full)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        counts = dict(json.loads(self.proc.stdout.readline()))
        for netns in self.namespaces:
            shown = subprocess.run(["ip", "-n", netns, "-s", "-j", "link", "show", TUN], capture_output=True, text=True)
            counts[f"tun_dropped_{netns[:4]}"] = json.loads(shown.stdout)[0]["stats64"]["tx"]["dropped"]
        return counts

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main() -> None:
    """The delay line's own process (``Link`` starts it inside no namespace: it opens a TUN
    device in each)."""
    parser = argparse.ArgumentParser(prog="regions_net.py link")
    parser.add_argument("link", choices=["link"])
    parser.add_argument("ns_a")
    parser.add_argument("ns_b")
    parser.add_argument("--delay-ms", type=float, default=40.0)
    options = parser.parse_args()
    run_link(options.ns_a, options.ns_b, options.delay_ms)


if __name__ == "__main__":
    main()
