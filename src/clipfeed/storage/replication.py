"""Replication of the hot tier to a second region's store (``CLIPFEED_BLOB_URL_REPLICA``).

The replica mirrors the hot objects under ``clips/`` (raw masters excluded: they are never
served, and the cold tier keeps them). ``reconcile`` is both the replication pass and its
repair job: it lists both stores in key order, copies what is missing or differs in size or
newer in hot (verified by digest, as tier moves are), and deletes from the replica what hot no
longer holds (clips deleted, or moved to warm/cold). It holds no state of its own, so a pass
killed half-way is simply run again. A region serving from the replica points its origin's
``CLIPFEED_BLOB_URL`` at it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from clipfeed.infra.blobs import BlobInfo, BlobStore
from clipfeed.storage.models import Part, part_of
from clipfeed.storage.moves import copy_verified
from clipfeed.storage.tiers import tier_stores

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)


@dataclass
class ReplicationReport:
    copied: int = 0
    deleted: int = 0
    in_sync: int = 0


async def _listing(store: BlobStore) -> dict[str, BlobInfo]:
    return {info.key: info async for info in store.list("clips/") if part_of(info.key) is Part.media}


async def reconcile(*, services: Services) -> ReplicationReport:
    stores = tier_stores(services=services)
    report = ReplicationReport()
    if stores.replica is None:
        return report
    hot, replica = await asyncio.gather(_listing(stores.hot), _listing(stores.replica))
    for key, info in hot.items():
        there = replica.get(key)
        if there is not None and there.size == info.size and there.modified >= info.modified:
            report.in_sync += 1
            continue
        report.copied += await copy_verified(stores.hot, stores.replica, info)
    for key in replica.keys() - hot.keys():
        await stores.replica.delete(key)
        report.deleted += 1
    if report.copied or report.deleted:
        log.info("storage.replicated", copied=report.copied, deleted=report.deleted, in_sync=report.in_sync)
    return report
