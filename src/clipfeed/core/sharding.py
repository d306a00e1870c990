"""Virtual shards: a key hashes to one of ``virtual_shards`` buckets, and each bucket maps to a
database. Adding a database moves whole buckets (a data move of 1/N of the rows), never
rehashes keys. The mapping is contiguous ranges, which is what an operator edits by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


def virtual_shard(key: int | str | bytes, virtual_shards: int) -> int:
    """Stable across processes and versions (not Python's salted ``hash``)."""
    if isinstance(key, int):
        raw = key.to_bytes(8, "big", signed=True)
    elif isinstance(key, str):
        raw = key.encode()
    else:
        raw = key
    digest = hashlib.blake2b(raw, digest_size=8).digest()
    return int.from_bytes(digest, "big") % virtual_shards


class ShardRouter:
    """Maps keys to database indexes through virtual shards."""

    def __init__(self, *, databases: int, virtual_shards: int = 1024,
                 ranges: Sequence[tuple[int, int]] | None = None) -> None:
        if databases < 1:
            raise ValueError("at least one database is needed")
        if virtual_shards < databases:
            raise ValueError("need at least as many virtual shards as databases")
        self.databases = databases
        self.virtual_shards = virtual_shards
        # ranges[i] = [start, end) of virtual shards that database i holds.
        if ranges is None:
            step = virtual_shards / databases
            bounds = [round(i * step) for i in range(databases + 1)]
            ranges = [(bounds[i], bounds[i + 1]) for i in range(databases)]
        self._table = [0] * virtual_shards
        covered = 0
        for index, (start, end) in enumerate(ranges):
            for shard in range(start, end):
                self._table[shard] = index
            covered += end - start
        if covered != virtual_shards:
            raise ValueError("shard ranges must cover every virtual shard exactly once")

    def database_for(self, key: int | str | bytes) -> int:
        return self._table[virtual_shard(key, self.virtual_shards)]

    def shard_of(self, key: int | str | bytes) -> int:
        return virtual_shard(key, self.virtual_shards)

    def database_of_shard(self, shard: int) -> int:
        return self._table[shard]

    def shards_of(self, database: int) -> list[int]:
        return [shard for shard, index in enumerate(self._table) if index == database]

    def assign(self, assignments: dict[int, int]) -> None:
        """Virtual shards moved to other databases (``clipfeed shards move``): shard -> database."""
        for shard, index in assignments.items():
            if not 0 <= shard < self.virtual_shards:
                raise ValueError(f"virtual shard {shard} is outside 0..{self.virtual_shards - 1}")
            if not 0 <= index < self.databases:
                raise ValueError(f"virtual shard {shard} is assigned to shard database {index}, but only "
                                 f"{self.databases} are configured (CLIPFEED_DATABASE_SHARD_URLS: only ever append)")
            self._table[shard] = index

    def table(self) -> list[int]:
        return list(self._table)

    def group(self, keys: Iterable[int]) -> dict[int, list[int]]:
        """Keys grouped by database: one query per database for a scatter-gather read."""
        out: dict[int, list[int]] = {}
        for key in keys:
            out.setdefault(self.database_for(key), []).append(key)
        return out
