"""Declarative base shared by every feature's tables, and the column types they share."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic migrations can refer to them on both engines.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


_M = TypeVar("_M", bound=Base)


def row_of(obj: Base) -> dict[str, Any]:
    """An object's column values by name, e.g. to keep a copy in the cache (as JSON)."""
    return {column.key: getattr(obj, column.key) for column in obj.__table__.columns}


def detached(model: type[_M], row: dict[str, Any]) -> _M:
    """A ``model`` object rebuilt from ``row_of`` values read back from JSON (ISO datetimes
    parsed again), attached to no session."""
    values = dict(row)
    for column in model.__table__.columns:
        kind = getattr(column.type, "impl", column.type)
        if isinstance(kind, sa.DateTime) and isinstance(values.get(column.key), str):
            values[column.key] = datetime.fromisoformat(values[column.key])
    return model(**values)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use clipfeed.infra.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_for(session: AsyncSession, table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the session's engine."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def not_among(session: AsyncSession, column: Any, ids: Collection[int]) -> Any:
    """``column NOT IN ids`` with the IDs as one bound value (an array on PostgreSQL, JSON on
    SQLite) for the session's engine: a list of any length costs one parameter, where an
    expanded ``NOT IN`` would cost one each and hit the drivers' limit (32k) on a large one.
    For a list that lives in another database; on the same one, ``NOT IN`` a subquery."""
    values = sorted({int(i) for i in ids})
    if session.get_bind().dialect.name == "postgresql":
        listed = sa.bindparam(None, values, type_=postgresql.ARRAY(sa.BigInteger))
        return sa.not_(column == sa.any_(listed))
    as_json = sa.bindparam(None, json.dumps(values), type_=sa.Text)
    return column.not_in(sa.select(sa.column("value", sa.BigInteger)).select_from(sa.func.json_each(as_json)))


async def insert_ignore(session: AsyncSession, table: Any, values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists; True when this call created it."""
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING.
    stmt = insert_for(session, table).values(**values).on_conflict_do_nothing().returning(sa.literal_column("1"))
    return (await session.execute(stmt)).first() is not None
