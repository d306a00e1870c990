"""The consistent-hash ring behind the Redis cache nodes and edge selection."""

from __future__ import annotations

import pytest

from clipfeed.infra.cache.ring import HashRing

KEYS = [f"clip:{number}" for number in range(10_000)]


def test_ring_maps_keys_the_same_way_whatever_order_nodes_were_added() -> None:
    forward = HashRing(["a", "b", "c"])
    backward = HashRing(["c", "b", "a"])
    assert [forward.node_for(key) for key in KEYS] == [backward.node_for(key) for key in KEYS]


def test_keys_spread_roughly_evenly_over_nodes() -> None:
    ring = HashRing(["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0", "redis://10.0.0.3:6379/0"])
    counts: dict[str, int] = {}
    for key in KEYS:
        node = ring.node_for(key)
        counts[node] = counts.get(node, 0) + 1
    assert len(counts) == 3
    assert all(0.25 < count / len(KEYS) < 0.42 for count in counts.values()), counts


def test_adding_a_third_node_moves_about_a_third_of_keys_and_only_to_it() -> None:
    ring = HashRing(["node-1", "node-2"])
    before = {key: ring.node_for(key) for key in KEYS}
    ring.add("node-3")
    moved = [key for key in KEYS if ring.node_for(key) != before[key]]
    assert 0.20 <= len(moved) / len(KEYS) <= 0.45
    assert {ring.node_for(key) for key in moved} == {"node-3"}


def test_removing_a_node_moves_only_the_keys_it_owned() -> None:
    ring = HashRing(["node-1", "node-2", "node-3"])
    before = {key: ring.node_for(key) for key in KEYS}
    ring.remove("node-2")
    for key in KEYS:
        if before[key] != "node-2":
            assert ring.node_for(key) == before[key]
        else:
            assert ring.node_for(key) in {"node-1", "node-3"}
    assert ring.nodes == {"node-1", "node-3"}


def test_adding_a_node_twice_changes_nothing() -> None:
    ring = HashRing(["node-1", "node-2"])
    before = [ring.node_for(key) for key in KEYS[:500]]
    ring.add("node-1")
    assert len(ring) == 2
    assert [ring.node_for(key) for key in KEYS[:500]] == before


def test_nodes_for_lists_distinct_nodes_with_the_owner_first() -> None:
    ring = HashRing(["edge-1", "edge-2", "edge-3"])
    for key in KEYS[:200]:
        preference = ring.nodes_for(key, 5)
        assert preference[0] == ring.node_for(key)
        assert sorted(preference) == ["edge-1", "edge-2", "edge-3"]
    assert len(ring.nodes_for("clip:1", 2)) == 2


def test_group_collects_key_positions_per_node() -> None:
    ring = HashRing(["node-1", "node-2"])
    groups = ring.group(KEYS[:100])
    assert sorted(position for positions in groups.values() for position in positions) == list(range(100))
    for node, positions in groups.items():
        assert all(ring.node_for(KEYS[position]) == node for position in positions)


def test_an_empty_ring_refuses_lookups() -> None:
    with pytest.raises(LookupError):
        HashRing().node_for("clip:1")
