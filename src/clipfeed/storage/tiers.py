"""The object stores behind each tier. Hot is the main store (``CLIPFEED_BLOB_URL``); warm and
cold are their own stores (local: other directories or volumes; S3: other buckets, which an
operator can give cheaper storage classes by bucket lifecycle rules); the replica is a second
region's copy of the hot objects."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clipfeed.infra.blobs import BlobStore, open_blob_store
from clipfeed.storage.models import Tier

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

# Where a missing object is looked for next: cheapest-to-read first after the recorded tier.
READ_ORDER = (Tier.hot, Tier.warm, Tier.cold)


@dataclass
class TierStores:
    hot: BlobStore
    warm: BlobStore
    cold: BlobStore
    replica: BlobStore | None

    def of(self, tier: Tier | str) -> BlobStore:
        store: BlobStore = getattr(self, Tier(tier).value)
        return store


def tier_stores(*, services: Services) -> TierStores:
    """The stores of ``services``, opened once and closed with them."""
    stores: TierStores | None = getattr(services, "_tier_stores", None)
    if stores is None:
        settings = services.settings
        replica = settings.resolve(settings.blob_url_replica) if settings.blob_url_replica else None
        stores = TierStores(hot=services.blobs,
                            warm=open_blob_store(settings.resolve(settings.blob_url_warm)),
                            cold=open_blob_store(settings.resolve(settings.blob_url_cold)),
                            replica=open_blob_store(replica) if replica else None)
        services._tier_stores = stores  # type: ignore[attr-defined]
        services.spawn(_close_at_shutdown(stores), "storage-tiers-closer")
    return stores


async def _close_at_shutdown(stores: TierStores) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        for store in (stores.warm, stores.cold, stores.replica):
            if store is not None:
                with contextlib.suppress(Exception):
                    await store.close()
