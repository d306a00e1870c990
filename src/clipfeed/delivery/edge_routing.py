"""Which edge cache serves a clip: consistent hashing with bounded loads, per region.

The clip ID is the key, so every viewer of a clip in a region is sent to the same edge (one
cached copy per region, not one per edge) and adding an edge to a region of N moves only about
1/(N+1) of the clips. Load is what this process has handed out recently (a count decaying with
a half-life of ``HALF_LIFE_S``): a clip whose edge already has more than ``1 + ε`` times the mean
spills over to the next edge in its ring order, so a viral clip cannot swamp one box. Every API
process balances on its own, which is the usual trade (no coordination on the request path).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from clipfeed.infra.cache.ring import HashRing
from clipfeed.settings import Settings

HALF_LIFE_S = 10.0


@dataclass
class RegionEdges:
    ring: HashRing
    epsilon: float
    loads: dict[str, float] = field(default_factory=dict)
    stamp: float = field(default_factory=time.monotonic)

    def _decay(self, now: float) -> None:
        factor = math.pow(0.5, (now - self.stamp) / HALF_LIFE_S)
        if factor < 0.999:
            self.loads = {edge: load * factor for edge, load in self.loads.items() if load * factor > 0.01}
            self.stamp = now

    def pick(self, clip_id: int, *, weight: float = 1.0) -> str:
        """The edge for ``clip_id`` now, counting this pick against its load."""
        self._decay(time.monotonic())
        edge = self.ring.node_bounded(str(clip_id), self.loads, epsilon=self.epsilon)
        self.loads[edge] = self.loads.get(edge, 0.0) + weight
        return edge

    def owner(self, clip_id: int) -> str:
        """The clip's home edge, ignoring load (where placement warms it)."""
        return self.ring.node_for(str(clip_id))


class EdgeDirectory:
    """The configured edges (``CLIPFEED_EDGES``: region -> base URLs) and their rings."""

    def __init__(self, edges: dict[str, list[str]], *, epsilon: float, default_region: str) -> None:
        self.regions = {region: RegionEdges(HashRing([url.rstrip("/") for url in urls]), epsilon)
                        for region, urls in edges.items() if urls}
        self.default_region = default_region

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeDirectory:
        key = (repr(sorted(settings.edges.items())), settings.edge_load_factor, settings.region)
        found = _DIRECTORIES.get(key)
        if found is None:
            found = _DIRECTORIES[key] = cls(settings.edges, epsilon=settings.edge_load_factor,
                                            default_region=settings.region)
        return found

    def region(self, name: str | None) -> RegionEdges | None:
        return self.regions.get(name or "") or self.regions.get(self.default_region)

    def all_edges(self) -> list[str]:
        return sorted({edge for region in self.regions.values() for edge in region.ring.nodes})


_DIRECTORIES: dict[tuple[object, ...], EdgeDirectory] = {}
