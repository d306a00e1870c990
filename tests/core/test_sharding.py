from __future__ import annotations

from collections import Counter

import pytest

from clipfeed.core.sharding import ShardRouter, virtual_shard


def test_virtual_shard_is_stable_across_calls_and_types() -> None:
    assert virtual_shard(123456789, 1024) == virtual_shard(123456789, 1024)
    assert virtual_shard("alice", 1024) == virtual_shard(b"alice", 1024)


def test_keys_spread_evenly_over_databases() -> None:
    router = ShardRouter(databases=4, virtual_shards=1024)
    counts = Counter(router.database_for(key) for key in range(40_000))
    assert set(counts) == {0, 1, 2, 3}
    assert max(counts.values()) / min(counts.values()) < 1.15


def test_adding_a_database_by_moving_ranges_keeps_other_keys_in_place() -> None:
    before = ShardRouter(databases=2, virtual_shards=1024, ranges=[(0, 512), (512, 1024)])
    after = ShardRouter(databases=3, virtual_shards=1024, ranges=[(0, 512), (512, 768), (768, 1024)])
    moved = sum(before.database_for(k) != after.database_for(k) for k in range(20_000))
    # Only the keys of the virtual shards handed to the new database move (about a quarter).
    assert 0.2 < moved / 20_000 < 0.3
    movers = [k for k in range(20_000) if before.database_for(k) != after.database_for(k)]
    assert all(before.database_for(k) == 1 and after.database_for(k) == 2 for k in movers)


def test_group_splits_keys_by_database_for_scatter_gather() -> None:
    router = ShardRouter(databases=2, virtual_shards=64)
    grouped = router.group(range(100))
    assert sorted(k for keys in grouped.values() for k in keys) == list(range(100))
    assert all(router.database_for(k) == db for db, keys in grouped.items() for k in keys)


def test_ranges_must_cover_every_virtual_shard() -> None:
    with pytest.raises(ValueError):
        ShardRouter(databases=2, virtual_shards=16, ranges=[(0, 8), (9, 16)])
