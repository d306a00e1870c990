"""A consistent-hash ring: maps keys to named nodes so that adding or removing one node out of
N moves only about 1/N of the keys.

Hand-written rather than taken from redis-py: its cluster client needs servers running in Redis
Cluster mode (hash slots, ``CLUSTER`` commands), and the Redis servers we ship and test against
run standalone. Client-side hashing over plain servers is all a cache needs. The same ring picks
the edge cache for a clip, so it knows nothing about Redis.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Mapping


def _point(label: str) -> int:
    # Stable across processes and Python versions, unlike the salted built-in ``hash``.
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "big")


class HashRing:
    """Nodes are names (``"redis://10.0.0.5:6379/0"``, ``"edge-eu-1"``); callers keep the map
    from name to client. Each node owns ``replicas`` points on the ring, which evens out the
    share of keys each node gets (with 160 points the spread is within a few percent)."""

    def __init__(self, nodes: Iterable[str] = (), *, replicas: int = 160) -> None:
        if replicas < 1:
            raise ValueError("a node needs at least one point on the ring")
        self.replicas = replicas
        self._points: list[int] = []
        self._owners: list[str] = []
        self._nodes: set[str] = set()
        for node in nodes:
            self.add(node)

    @property
    def nodes(self) -> frozenset[str]:
        return frozenset(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def add(self, node: str) -> None:
        if node in self._nodes:
            return
        self._nodes.add(node)
        for replica in range(self.replicas):
            point = _point(f"{node}#{replica}")
            index = self._insert_at(point, node)
            self._points.insert(index, point)
            self._owners.insert(index, node)

    def _insert_at(self, point: int, node: str) -> int:
        # Ties (astronomically rare with 64-bit points) are broken by name, so every process
        # builds the same ring whatever order the nodes were added in.
        index = bisect.bisect_left(self._points, point)
        while (index < len(self._points) and self._points[index] == point
               and self._owners[index] < node):
            index += 1
        return index

    def remove(self, node: str) -> None:
        if node not in self._nodes:
            return
        self._nodes.discard(node)
        kept = [(p, o) for p, o in zip(self._points, self._owners, strict=True) if o != node]
        self._points = [p for p, _ in kept]
        self._owners = [o for _, o in kept]

    def node_for(self, key: str) -> str:
        """The node owning ``key``: the first point clockwise from the key's hash."""
        if not self._points:
            raise LookupError("the ring has no nodes")
        if len(self._nodes) == 1:  # the usual single Redis: no hash to compute
            return self._owners[0]
        index = bisect.bisect_right(self._points, _point(key)) % len(self._points)
        return self._owners[index]

    def nodes_for(self, key: str, count: int) -> list[str]:
        """Up to ``count`` distinct nodes for ``key`` in ring order: the owner first, then the
        nodes that would take over if it left (fallbacks for edge selection)."""
        if not self._points:
            raise LookupError("the ring has no nodes")
        wanted = min(count, len(self._nodes))
        start = bisect.bisect_right(self._points, _point(key))
        found: list[str] = []
        for step in range(len(self._points)):
            owner = self._owners[(start + step) % len(self._points)]
            if owner not in found:
                found.append(owner)
                if len(found) == wanted:
                    break
        return found

    def node_bounded(self, key: str, loads: Mapping[str, float], *, epsilon: float) -> str:
        """Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2018): the
        first node in ``key``'s ring order whose load is under ``(1 + epsilon)`` times the mean
        (after counting this key), so no node takes more than its share while keys still stay
        where they were unless their owner is full."""
        if not self._points:
            raise LookupError("the ring has no nodes")
        total = sum(loads.get(node, 0.0) for node in self._nodes) + 1.0
        capacity = (1.0 + epsilon) * total / len(self._nodes)
        candidates = self.nodes_for(key, len(self._nodes))
        for node in candidates:
            if loads.get(node, 0.0) + 1.0 <= capacity:
                return node
        return min(candidates, key=lambda node: loads.get(node, 0.0))

    def group(self, keys: Iterable[str]) -> dict[str, list[int]]:
        """Positions of ``keys`` grouped by owning node, for one batched call per node."""
        keys = list(keys)
        if len(self._nodes) == 1:
            return {self._owners[0]: list(range(len(keys)))} if keys else {}
        groups: dict[str, list[int]] = {}
        for position, key in enumerate(keys):
            groups.setdefault(self.node_for(key), []).append(position)
        return groups
