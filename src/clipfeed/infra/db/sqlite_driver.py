"""The embedded engine's driver: SQLAlchemy's aiosqlite adapter, with a cursor that runs a
statement whole — create a cursor, execute, fetch every row, close — in one trip to the
connection's thread.

Why: aiosqlite runs each sqlite3 call on the connection's own thread, and SQLAlchemy's cursor
made four calls a statement (cursor, execute, fetchall, close), so four hand-offs: a queue put,
a thread wake-up, and the event loop woken through its self-pipe to resume the request. A
search runs a dozen statements; under load, each hand-off also waited for the GIL while another
request's Python held it (up to the 5 ms switch interval). One trip does the same work with a
quarter of the hand-offs. The rows are the same ones the stock cursor would fetch (it fetched
them all too); a server-side (streaming) cursor keeps the stock behaviour.

Relies on two members of aiosqlite's ``Connection`` that SQLAlchemy's own adapter uses as well
(``_execute``, which queues a function for the connection's thread, and ``_conn``, the sqlite3
connection there): both pinned by the exact aiosqlite version in ``pyproject.toml``, and every
SQLite test runs through this cursor.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_


def _execute_whole(connection: aiosqlite.Connection, operation: str,
                   parameters: Any) -> tuple[Any, list[Any], int, int | None]:
    """On the connection's thread: the statement run to its end; its description, rows,
    row count and last row ID."""
    cursor = connection._conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _execute_many(connection: aiosqlite.Connection, operation: str,
                  parameters: Sequence[Any]) -> tuple[Any, list[Any], int, int | None]:
    cursor = connection._conn.cursor()
    try:
        cursor.executemany(operation, parameters)
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement makes one trip to the connection's thread. It holds
    no sqlite3 cursor between calls: what the stock cursor read from it (description, row
    count, last row ID, the rows) is kept from the trip."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        return None

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            found = await self._connection._execute(_execute_whole, self._connection, operation, parameters)
        self._description, rows, self._rowcount, self._lastrowid = found
        self._rows = collections.deque(rows)
        return None

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            found = await self._connection._execute(_execute_many, self._connection, operation, seq_of_parameters)
        self._description, _, self._rowcount, self._lastrowid = found
        return None

    async def _async_soft_close(self) -> None:
        return None  # nothing open on the connection's thread

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor  # type: ignore[assignment]  # a subclass; mypy reads the stub narrowly


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DB-API module the engine is given (``create_async_engine(module=...)``)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's adapter: never hold the process open
        return OneTripConnection(self, await_(connection))


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
