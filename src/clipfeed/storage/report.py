"""The storage bill: bytes per tier, estimated monthly cost at configurable prices, and what
the lifecycle policy saves against keeping everything hot (``clipfeed storage report``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.storage.models import StoredPart
from clipfeed.storage.tiers import tier_stores

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

GB = 1024**3


@dataclass
class TierLine:
    name: str
    objects: int
    bytes: int
    price_gb_month: float

    @property
    def monthly(self) -> float:
        return self.bytes / GB * self.price_gb_month


@dataclass
class CostReport:
    lines: list[TierLine] = field(default_factory=list)
    dropped_bytes: int = 0  # renditions the cold tier deleted (all-hot would still store them)

    @property
    def monthly(self) -> float:
        return sum(line.monthly for line in self.lines)

    @property
    def all_hot_monthly(self) -> float:
        """Everything in the tiers (plus dropped renditions) at the hot price, and the replica."""
        hot_price = next((line.price_gb_month for line in self.lines if line.name == "hot"), 0.0)
        stored = sum(line.bytes for line in self.lines if line.name != "replica") + self.dropped_bytes
        replica = sum(line.monthly for line in self.lines if line.name == "replica")
        return stored / GB * hot_price + replica

    @property
    def saved_monthly(self) -> float:
        return self.all_hot_monthly - self.monthly


async def build(*, services: Services) -> CostReport:
    stores = tier_stores(services=services)
    prices = services.settings.storage_prices
    report = CostReport()
    named = [("hot", stores.hot), ("warm", stores.warm), ("cold", stores.cold)]
    if stores.replica is not None:
        named.append(("replica", stores.replica))
    for name, store in named:
        objects = size = 0
        async for info in store.list("clips/"):
            objects += 1
            size += info.size
        report.lines.append(TierLine(name, objects, size, float(prices.get(name, 0.0))))
    async with services.db.session() as session:
        report.dropped_bytes = int(await session.scalar(sa.select(sa.func.coalesce(
            sa.func.sum(StoredPart.dropped_bytes), 0))) or 0)
    return report
