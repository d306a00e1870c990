"""Edge selection: consistent hashing (adding an edge remaps ~1/N of clips) with bounded loads."""

from __future__ import annotations

import math

from clipfeed.delivery.edge_routing import RegionEdges
from clipfeed.infra.cache.ring import HashRing

CLIPS = range(10_000, 30_000)
EDGES = [f"http://edge-{i}.example:8080" for i in range(4)]


def test_adding_a_fifth_edge_moves_about_a_fifth_of_the_clips_and_only_to_it() -> None:
    before = HashRing(EDGES)
    after = HashRing([*EDGES, "http://edge-new.example:8080"])
    moved = [c for c in CLIPS if before.node_for(str(c)) != after.node_for(str(c))]
    share = len(moved) / len(CLIPS)
    assert 0.15 < share < 0.25, share
    assert all(after.node_for(str(c)) == "http://edge-new.example:8080" for c in moved)


def _assign(edges: list[str], epsilon: float) -> tuple[dict[int, str], dict[str, float]]:
    region = RegionEdges(HashRing(edges), epsilon)
    placed = {clip: region.pick(clip) for clip in CLIPS}
    return placed, region.loads


def test_bounded_loads_cap_every_edge_and_still_remap_little() -> None:
    epsilon = 0.25
    placed, loads = _assign(EDGES, epsilon)
    cap = math.ceil((1 + epsilon) * len(CLIPS) / len(EDGES)) + 1
    assert max(loads.values()) <= cap
    unbounded = HashRing(EDGES)
    assert sum(placed[c] == unbounded.node_for(str(c)) for c in CLIPS) / len(CLIPS) > 0.9  # mostly the owner
    grown, _ = _assign([*EDGES, "http://edge-new.example:8080"], epsilon)
    share = sum(placed[c] != grown[c] for c in CLIPS) / len(CLIPS)
    assert share < 0.35, share


def test_a_viral_clip_spills_over_to_the_next_edge_instead_of_swamping_one() -> None:
    region = RegionEdges(HashRing(EDGES), 0.25)
    for clip in range(1000, 1400):  # background traffic spread over every edge
        region.pick(clip)
    picks = [region.pick(77) for _ in range(400)]
    assert picks[0] == region.owner(77)
    assert len(set(picks)) >= 2
    total = sum(region.loads.values())
    assert max(region.loads.values()) <= (1.25 * total / len(EDGES)) + 1
