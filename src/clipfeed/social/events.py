"""Social events (topic ``social``, ``clipfeed.core.contract``) and the outbox relays of shard databases.

Events are staged in the same transaction as the row they describe. Likes, bookmarks, shares
and comments live in sharded tables, so their events are staged in the *shard's* ``outbox``
table (every database has the full schema). The foundation's relay publishes the main
database's outbox; with separate shard databases (``CLIPFEED_DATABASE_SHARD_URLS``), each API
process also runs one relay per shard database (started by ``start_shard_relays``), so an
event is as durable as its row either way: a process killed after the commit leaves the row
for another relay, which picks it up when the claim lapses.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.core.contract import EventType, P
from clipfeed.infra.db import Database
from clipfeed.runtime.outbox import Outbox

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)

# id(main Database) -> (that Database, one relay Outbox per shard database)
_relays: dict[int, tuple[Database, list[Outbox]]] = {}


def start_shard_relays(*, services: Services) -> None:
    """Run a relay per shard database in this process (idempotent; a no-op without shards)."""
    db = services.db
    known = _relays.get(id(db))
    if not db.shard_urls or (known is not None and known[0] is db):
        return
    outboxes = [Outbox(db=Database(url, virtual_shards=services.settings.virtual_shards), log=services.log,
                       ids=services.ids, region=services.settings.region) for url in db.shard_urls]
    _relays[id(db)] = (db, outboxes)
    for index, outbox in enumerate(outboxes):
        services.spawn(_relay(db, outbox, services.stopping), f"shard-outbox-{index}")


async def _relay(main: Database, outbox: Outbox, stop: asyncio.Event) -> None:
    try:
        await outbox.run(stop, sweep_every=1.0)
    finally:
        _relays.pop(id(main), None)
        try:
            await outbox.flush()
        except Exception as exc:  # what stays is relayed by the next process
            log.warning("shard_outbox.flush_on_close_failed", error=str(exc))
        await outbox.db.close()


def outbox_for_shard(shard_key: int, *, services: Services) -> Outbox:
    """The outbox whose relay watches the database ``shard_key``'s rows live in."""
    known = _relays.get(id(services.db))
    if known is None or known[0] is not services.db:
        return services.outbox
    return known[1][services.db.shard_index(shard_key)]


def record(session: AsyncSession, event_type: EventType[P], *, services: Services, key: int, actor_id: int,
           payload: P, shard_key: int | None = None) -> None:
    """Stage a social event in ``session`` (a shard session when ``shard_key`` is given)."""
    outbox = services.outbox if shard_key is None else outbox_for_shard(shard_key, services=services)
    outbox.record(session, event_type, key=key, actor_id=actor_id, payload=payload)
