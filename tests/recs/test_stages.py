"""Golden tests of each stage of the feed pipeline, on fixed inputs."""

from __future__ import annotations

import time

import numpy as np
import pytest

from clipfeed.infra.blobs import open_blob_store
from clipfeed.infra.cache import open_cache
from clipfeed.recs import explore, registry
from clipfeed.recs.cards import SKETCH_DIM, ClipCard, sketch
from clipfeed.recs.diversity import apply_rules, mmr
from clipfeed.recs.experiments import Experiment, readout
from clipfeed.recs.features import FEATURE_NAMES, Context, column, feature_matrix
from clipfeed.recs.profile import ViewerState
from clipfeed.recs.ranker import OBJECTIVES, HeuristicRanker, ModelRanker, auc, combine, train_ranker
from clipfeed.recs.retrieval import Snapshot, build_snapshot
from clipfeed.recs.seen import SeenFilter


def _card(clip_id: int, creator: int, tags: tuple[str, ...] = ("cats",), vector: np.ndarray | None = None) -> ClipCard:
    return ClipCard(clip_id, creator, tags, 15_000, time.time() - 3600, None, None,
                    vector if vector is not None else np.zeros(SKETCH_DIM, np.float32))


async def test_the_seen_filter_claims_each_clip_once_and_never_forgets_within_its_ttl() -> None:
    cache = open_cache("memory://")
    seen = SeenFilter(capacity=5000, error_rate=0.001, ttl=100.0)
    served = list(range(1, 5001))
    claimed = await seen.claim(cache, "u:1", served, at=1000.0)
    assert sum(claimed) >= 0.998 * len(served)  # a Bloom filter's few false positives, at capacity
    assert not any(await seen.claim(cache, "u:1", served[:50], at=1000.0))  # a second claim loses
    assert all(await seen.seen(cache, "u:1", served, at=1050.0))             # no false negatives
    assert all(await seen.seen(cache, "u:1", served, at=1150.0))             # still within ttl..2·ttl
    assert not any(await seen.seen(cache, "u:1", served[:100], at=1250.0))   # forgotten after 2 periods
    unseen = list(range(10_001, 30_001))
    false_positive = sum(await seen.seen(cache, "u:1", unseen, at=1000.0)) / len(unseen)
    assert false_positive < 0.005
    assert not any(await seen.seen(cache, "u:2", served[:100], at=1000.0))   # per viewer


def test_mmr_prefers_a_different_clip_over_a_near_duplicate() -> None:
    vectors = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    scores = np.array([1.0, 0.95, 0.8])
    assert mmr(scores, vectors, 3, lam=0.5) == [0, 2, 1]
    assert mmr(scores, vectors, 3, lam=1.0) == [0, 1, 2]


def test_page_rules_space_out_creators_and_cap_hashtags() -> None:
    cards = [_card(1, 7), _card(2, 7), _card(3, 8, ("dogs",)), _card(4, 9, ("dogs",)), _card(5, 7)]
    order = [c.id for c in apply_rules(cards, creator_gap=2, hashtag_cap=5, window=10)]
    assert order == [1, 3, 2, 4, 5]
    capped = [c.id for c in apply_rules(cards, creator_gap=1, hashtag_cap=1, window=3)]
    assert capped[:2] == [1, 3]
    avoided = [c.id for c in apply_rules(cards, creator_gap=2, hashtag_cap=5, window=10, avoid={3})]
    assert avoided[:3] == [1, 4, 2]


def test_thompson_sampling_favours_the_untried_over_the_proven_bad() -> None:
    rng = np.random.default_rng(1)
    wins = sum(int(explore.thompson_order(np.array([0.0, 2.0]), np.array([0.0, 100.0]), rng)[0] == 0)
               for _ in range(500))
    assert wins > 450


def test_the_exploration_rate_follows_how_discovery_slots_do() -> None:
    keen = ViewerState("u:1", stats={"imp": 200, "pos": 40, "explore_imp": 40, "explore_hit": 20})
    bored = ViewerState("u:2", stats={"imp": 200, "pos": 40, "explore_imp": 40, "explore_hit": 0})
    assert explore.exploration_rate(keen, 0.2) == pytest.approx(0.4)
    assert explore.exploration_rate(bored, 0.2) == pytest.approx(0.05)
    assert explore.exploration_rate(ViewerState("u:3"), 0.2) == pytest.approx(0.3)


def test_features_are_computed_as_documented_for_a_known_viewer_and_clip() -> None:
    taste = np.zeros(SKETCH_DIM, np.float32)
    taste[0] = 1.0
    state = ViewerState("u:1", tags={"cats": 5.0}, creators={7: 5.0}, stats={"imp": 16, "skip": 3, "pos": 5},
                        taste=taste, live_tags={"cats": 0.5})
    card = _card(1, 7, ("cats",), taste.copy())
    card.published = 1_000_000.0 - 3600 * 3
    rows = feature_matrix(state, [card], {1: {"imp": 10, "engaged": 4, "complete": 3, "skip": 2,
                                             "watch_ms": 75_000}},
                          Context(at=1_000_000.0, device="ios", network="wifi"), ["collaborative"], [0.5])
    row = dict(zip(FEATURE_NAMES, rows[0].tolist(), strict=True))
    assert row["clip_age_log_h"] == pytest.approx(np.log1p(3.0))
    assert row["clip_engaged_rate"] == pytest.approx((4 + 0.2 * 20) / 30)
    assert row["clip_watch_fraction"] == pytest.approx(0.5)
    assert row["viewer_skip_rate"] == pytest.approx(4 / 20)
    assert row["taste_dot"] == pytest.approx(1.0)
    assert row["creator_affinity"] == pytest.approx(np.tanh(1.0), rel=1e-5)
    assert row["tag_live"] == pytest.approx(np.tanh(0.5), rel=1e-5)
    assert row["device_mobile"] == 1.0 and row["network_quality"] == 1.0
    assert row["source"] == 2.0 and row["retrieval_score"] == 0.5


def test_the_heuristic_ranker_puts_a_liked_topic_above_a_disliked_one() -> None:
    rows = np.zeros((2, len(FEATURE_NAMES)), np.float32)
    for name in ("clip_complete_rate", "clip_like_rate", "clip_share_rate"):
        rows[:, column(name)] = 0.3
    rows[:, column("clip_duration_s")] = 15
    rows[:, column("clip_watch_fraction")] = 0.5
    rows[0, column("tag_live")] = 0.9
    rows[1, column("tag_live")] = -0.9
    scores = HeuristicRanker().score(rows, {"completion": 1, "like": 2, "share": 3, "watch": 1})
    assert scores[0] > scores[1]
    assert combine({"completion": np.array([1.0]), "watch": np.array([30.0])}, {"completion": 1, "watch": 1})[0] == 2.0


def test_the_multi_objective_ranker_learns_and_survives_the_registry(tmp_path) -> None:
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((3000, len(FEATURE_NAMES))).astype(np.float32)
    signal = rows[:, column("taste_dot")]
    labels = {name: (signal + 0.5 * rng.standard_normal(3000) > 0.8).astype(float) for name in OBJECTIVES}
    labels["watch"] = np.clip(5000 + 4000 * signal, 0, None)
    boosters, metrics = train_ranker(rows, labels, np.arange(3000, dtype=float))
    assert metrics["completion_auc"] > 0.8 and set(boosters) == set(OBJECTIVES)
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0


async def test_the_registry_promotes_rolls_back_and_shadows(tmp_path) -> None:
    blobs = open_blob_store(f"file://{tmp_path}")
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((600, len(FEATURE_NAMES))).astype(np.float32)
    labels = {name: (rows[:, 0] > 0.5).astype(float) for name in OBJECTIVES}
    boosters, metrics = train_ranker(rows, labels, np.arange(600, dtype=float))
    first = await registry.save_model(blobs, ModelRanker("m1", boosters), metrics=metrics, window=(0, 1), promote=True)
    second = await registry.save_model(blobs, ModelRanker("m2", boosters), metrics=metrics, window=(1, 2))
    loaded = registry.LoadedModels(poll_s=0)
    await loaded.refresh(blobs, force=True)
    assert loaded.current.version == first and loaded.shadow is None
    await registry.set_shadow(blobs, second)
    await registry.promote_model(blobs, second)
    await loaded.refresh(blobs, force=True)
    assert loaded.current.version == second and loaded.shadow is None
    assert await registry.rollback_model(blobs) == first
    assert await registry.rollback_model(blobs) is None
    await loaded.refresh(blobs, force=True)
    assert loaded.current.version == "heuristic"
    index = await registry.read_index(blobs)
    assert index["models"][first]["training_window"]["from"].startswith("1970")
    with pytest.raises(KeyError):
        await registry.promote_model(blobs, "m-unknown")
    predicted = loaded.current.score(rows[:5], {"completion": 1.0})
    assert predicted.shape == (5,)


def test_retrieval_finds_clips_engaged_by_similar_viewers_and_survives_a_snapshot() -> None:
    viewers, clips = [], []
    for viewer in range(60):
        group = viewer % 2  # even viewers like clips 0..49, odd ones 50..99
        for clip in range(group * 50, group * 50 + 50, 2 if viewer % 4 < 2 else 1):
            viewers.append(f"u:{viewer}")
            clips.append(1000 + clip)
    content = {1000 + c: sketch(np.eye(384, dtype=np.float32)[c % 2]) for c in range(100)}
    snap, neighbours = build_snapshot("v1", viewers, clips, [1.0] * len(clips), content=content)
    restored = Snapshot.from_bytes("v1", snap.to_bytes())
    found = [c for c, _ in restored.search_collab(restored.viewer_vector("u:0", []), 20)]
    assert sum(1000 <= c < 1050 for c in found) >= 18
    assert all(1000 <= n < 1050 for n in neighbours[1000][:10])
    similar = [c for c, _ in restored.search_content(content[1000], 10)]
    assert all(c % 2 == 0 for c in similar)


def test_ab_buckets_are_deterministic_balanced_and_read_out_with_intervals() -> None:
    experiment = Experiment("mmr", "2026-11", {"control": 0.5, "treatment": 0.5})
    viewers = [f"u:{n}" for n in range(10_000)]
    arms = [experiment.arm(v) for v in viewers]
    assert arms == [experiment.arm(v) for v in viewers]
    assert 0.47 < arms.count("treatment") / len(arms) < 0.53
    assert Experiment("mmr", "2026-12", {"control": 0.5, "treatment": 0.5}).arm("u:1") in ("control", "treatment")
    partial = Experiment("x", "s", {"a": 1.0}, traffic=0.1)
    assert 0.08 < sum(partial.arm(v) == "a" for v in viewers) / len(viewers) < 0.12
    rng = np.random.default_rng(5)
    rows = [(v, float(rng.normal(10.0 if experiment.arm(v) == "treatment" else 8.0, 2.0)))
            for v in viewers[:2000] for _ in range(3)]
    result = {r.arm: r for r in readout([v for v, _ in rows], [x for _, x in rows], experiment)}
    for arm, truth in (("control", 8.0), ("treatment", 10.0)):  # 95 % intervals: near the truth
        centre, half = result[arm].mean, (result[arm].high - result[arm].low) / 2
        assert 0 < half < 0.2 and abs(centre - truth) < 2 * half
    assert result["control"].high < result["treatment"].low
