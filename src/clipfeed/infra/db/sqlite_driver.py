"""SQLAlchemy's aiosqlite adapter with one hand-off to the connection's thread per statement.

aiosqlite runs every call on a sqlite3 connection in a thread of its own; each call is a trip
there and back (a queue put, a wake-up of the event loop through its self-pipe). SQLAlchemy's
adapter makes four per statement: create a cursor, execute, fetch every row, close the cursor.
On a shared two-core machine each trip costs the event loop's thread 0.1-0.15 ms of CPU, about
as much as a small read itself. This cursor does the four steps in one function run in that
thread and hands back the description, rows, row count and last row ID; SQLAlchemy's result
processing sees the same DBAPI cursor interface as before. No library offers this: aiosqlite's
own one-trip helper (``execute_fetchall``) leaves out the description SQLAlchemy needs.

Server-side (streaming) cursors keep aiosqlite's cursor: they fetch in batches, by design.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

_Outcome = tuple[Any, list[Any], int, int | None]  # description, rows, row count, last row ID


class _OneTrip:
    """What ``AsyncAdapt_dbapi_cursor`` needs of an aiosqlite cursor, each statement run in one
    trip to the connection's thread (its cursor opened and closed there)."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []

    async def __aenter__(self) -> _OneTrip:
        return self

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> _OneTrip:
        raw = self._connection

        def run() -> _Outcome:
            cursor = raw._conn.cursor()
            try:
                cursor.execute(sql, () if parameters is None else parameters)
                rows = cursor.fetchall() if cursor.description else []
                return cursor.description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        self.description, self._rows, self.rowcount, self.lastrowid = await raw._execute(run)
        return self

    async def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> _OneTrip:
        raw = self._connection

        def run() -> _Outcome:
            cursor = raw._conn.cursor()
            try:
                cursor.executemany(sql, parameters)
                return cursor.description, [], cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        self.description, self._rows, self.rowcount, self.lastrowid = await raw._execute(run)
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    def close(self) -> None:  # the sqlite3 cursor was closed in the thread
        self._rows = []


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False  # ``_OneTrip.close`` is plain: nothing to wait for

    def _make_new_cursor(self, connection: Any) -> Any:
        return _OneTrip(connection)

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The dialect's DBAPI module (``create_async_engine(..., module=OneTripDBAPI.make())``)."""

    @classmethod
    def make(cls) -> OneTripDBAPI:
        return cls(aiosqlite, sqlite3)

    def connect(self, *args: Any, **kwargs: Any) -> OneTripConnection:
        adapted = super().connect(*args, **kwargs)
        return OneTripConnection(self, adapted._connection)
