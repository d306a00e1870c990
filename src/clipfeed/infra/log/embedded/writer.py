"""The embedded log's SQLite threads: one writer that group-commits, one reader.

Every change goes through the writer thread as an *operation*, a function of the connection
run inside a transaction. Whatever callers queue while the previous transaction is being
fsynced is taken together into the next one, so N concurrent appends cost one ``COMMIT`` and
one fsync instead of N, and each caller's future resolves only after its batch is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from clipfeed.core.errors import Unavailable

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]

MAX_BATCH = 4096
BUSY_TIMEOUT_S = 10.0
# Other processes share the file (the server, workers, `clipfeed events replay --rebuild`);
# one may hold the write lock longer than the busy timeout, and SQLite's busy handler is not
# fair to a waiter. A batch whose transaction could not start is retried, with jittered
# pauses, for this long before its callers are told the log is unavailable.
LOCKED_PATIENCE_S = 60.0


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
    # Turning a new file to WAL takes an exclusive lock that SQLite's busy handler does not
    # wait for: two connections opening a fresh log at once (two processes, or the writer and
    # the watcher) would see "locked". Asked again until the file is in WAL mode.
    deadline = time.monotonic() + LOCKED_PATIENCE_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc) or time.monotonic() >= deadline:
                conn.close()
                raise
            time.sleep(random.uniform(0.01, 0.1))
    # FULL: the WAL is fsynced at every commit, so an acknowledged append survives power loss,
    # not only a killed process.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA cache_size=-16384")
    return conn


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.OperationalError):
        return Unavailable(f"embedded event log: {exc}")
    return exc


@dataclass
class _Job:
    op: Operation
    future: asyncio.Future[Any]
    wake: str | None


class Writer:
    def __init__(self, path: Path, on_commit: Callable[[set[str]], None]) -> None:
        self._path = path
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"eventlog-writer:{path.name}", daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, op: Callable[[sqlite3.Connection], T], *, wake: str | None = None) -> asyncio.Future[T]:
        """Queue ``op``; the future resolves once the transaction holding it has committed.
        ``wake`` names a topic whose waiting consumers should look again after the commit."""
        if self._closed:
            raise Unavailable("embedded event log is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(op, future, wake))
        return future

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        try:
            conn = connect(self._path)
        except sqlite3.Error as exc:  # callers are told, rather than left waiting on a dead thread
            self._fail_all(_translate(exc))
            return
        try:
            stop = False
            while not stop:
                first = self._queue.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                self._commit(conn, batch)
        finally:
            conn.close()

    def _fail_all(self, exc: BaseException) -> None:
        self._closed = True
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                with contextlib.suppress(RuntimeError):
                    job.future.get_loop().call_soon_threadsafe(_settle, [(job.future, None, exc)])

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        try:
            outcomes = self._patient_transaction(conn, batch)
        except sqlite3.OperationalError as exc:
            # Locked past the busy timeout, disk full, I/O error: the database is the problem,
            # not an operation, and retrying each alone would only wait N times as long.
            outcomes = [(None, _translate(exc))] * len(batch)
        except Exception:
            # One bad operation must not fail its neighbours: replay each on its own.
            outcomes = []
            for job in batch:
                try:
                    outcomes.extend(self._transaction(conn, [job]))
                except Exception as exc:
                    outcomes.append((None, _translate(exc)))
        woken = {job.wake for job, (_, failure) in zip(batch, outcomes, strict=True) if job.wake and not failure}
        if woken:
            self._on_commit(woken)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
        for job, (result, failure) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(job.future.get_loop(), []).append((job.future, result, failure))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(_settle, settled)

    def _patient_transaction(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[tuple[Any, Any]]:
        """``_transaction``, run again while another process holds the lock (the failed
        attempt rolled back, so its operations start afresh)."""
        deadline = time.monotonic() + LOCKED_PATIENCE_S
        while True:
            try:
                return self._transaction(conn, batch)
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(random.uniform(0.05, 0.5))

    @staticmethod
    def _transaction(conn: sqlite3.Connection, batch: list[_Job]) -> list[tuple[Any, Any]]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [job.op(conn) for job in batch]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return [(result, None) for result in results]


def _settle(settled: list[tuple[asyncio.Future[Any], Any, Any]]) -> None:
    for future, result, exc in settled:
        if future.done():  # the caller gave up (cancelled)
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)


class Watcher:
    """Notices commits of *other* connections to the file (other processes, or this process's
    writer) by polling ``PRAGMA data_version`` on a connection of its own, a read of SQLite's
    shared memory that touches no table: so a process's consumers learn of another process's
    appends within ``every`` seconds without each of them querying the log that often. Written
    here because SQLite offers no cross-process notification (no LISTEN as in PostgreSQL)."""

    def __init__(self, path: Path, every: float, on_change: Callable[[], None]) -> None:
        self._path = path
        self._every = every
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"eventlog-watcher:{path.name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        # A plain connection: the writer has made the file and turned it to WAL.
        conn = sqlite3.connect(self._path, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        try:
            seen = None
            while not self._stop.wait(self._every):
                try:
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error:  # a passing I/O problem: the consumers' slow poll still runs
                    continue
                if seen is not None and version != seen:
                    self._on_change()
                seen = version
        finally:
            conn.close()


class Reader:
    """Reads on their own connection and thread: WAL lets them run beside the writer."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"eventlog-reader:{path.name}")
        self._connections: list[sqlite3.Connection] = []

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._call, fn)
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"embedded event log: {exc}") from exc

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self._path)
            self._connections.append(conn)
        return fn(conn)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for conn in self._connections:
            conn.close()
