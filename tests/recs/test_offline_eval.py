"""``clipfeed recs eval``: metrics, protocol, and the goal on MovieLens 100K."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from clipfeed.recs.offline import features, metrics
from clipfeed.recs.offline.baselines import Ease, ease_weights
from clipfeed.recs.offline.dataset import (
    Interactions,
    fetch_ml100k,
    global_time_split,
    load_ml100k,
    temporal_split,
)
from clipfeed.recs.offline.run import run_eval
from clipfeed.recs.offline.tuning import ranker_features


def test_ranking_metrics_match_hand_computed_values() -> None:
    ranked = np.array([5, 1, 9, 3])
    assert metrics.recall_at(ranked, {1, 3, 7}, 2) == pytest.approx(0.5)
    assert metrics.ndcg_at(ranked, {1}, 10) == pytest.approx(1 / np.log2(3))
    assert metrics.ndcg_at(ranked, {5, 1}, 10) == pytest.approx(1.0)
    assert metrics.intra_list_diversity(np.eye(3)) == pytest.approx(1.0)
    assert metrics.intra_list_diversity(np.ones((3, 2)) / np.sqrt(2)) == pytest.approx(0.0)


def test_the_temporal_split_keeps_each_users_latest_events_for_testing() -> None:
    users = np.repeat(np.arange(3), 10).astype(np.int32)
    times = np.tile(np.arange(10)[::-1], 3).astype(np.int64)  # given newest first
    data = Interactions(users, np.arange(30, dtype=np.int32) % 7, np.full(30, 5.0, np.float32), times, 3, 7)
    train, test = temporal_split(data)
    assert len(train.users) == 24 and len(test.users) == 6
    for user in range(3):
        assert train.times[train.users == user].max() < test.times[test.users == user].min()


def test_ease_on_two_items_weighs_each_by_their_overlap_over_the_other_items_count() -> None:
    # Users × items: item 0 seen by users 0-2, item 1 by users 1-3 (overlap 2). With the diagonal
    # forced to zero, each column is a one-variable ridge regression: w = overlap / (count + λ).
    matrix = sp.csr_matrix(np.array([[1, 0], [1, 1], [1, 1], [0, 1], [0, 1]], dtype=np.float32))
    weights = ease_weights(matrix, regularization=2.0)
    assert weights[0, 0] == 0 and weights[1, 1] == 0
    assert weights[1, 0] == pytest.approx(2 / (4 + 2))  # item 1's weight in item 0's score
    assert weights[0, 1] == pytest.approx(2 / (3 + 2))


def test_ease_columns_are_ridge_regressions_on_the_other_items() -> None:
    rng = np.random.default_rng(3)
    matrix = (rng.random((40, 6)) < 0.4).astype(np.float64)
    weights = ease_weights(sp.csr_matrix(matrix), regularization=5.0)
    for item in range(6):
        others = [j for j in range(6) if j != item]
        x = matrix[:, others]
        expected = np.linalg.solve(x.T @ x + 5.0 * np.eye(5), x.T @ matrix[:, item])
        assert weights[others, item] == pytest.approx(expected, abs=1e-5)
        assert weights[item, item] == 0


def test_ease_recommends_what_co_occurs_with_a_users_items_and_can_learn_from_likes_only() -> None:
    # Items 0 and 1 are liked together; item 2 is rated (badly) by the same people who rated 0.
    users = np.array([0, 0, 1, 1, 2, 2, 2, 3], dtype=np.int32)
    items = np.array([0, 1, 0, 1, 0, 1, 2, 0], dtype=np.int32)
    ratings = np.array([5, 5, 4, 5, 5, 4, 1, 5], dtype=np.float32)
    data = Interactions(users, items, ratings, np.arange(8, dtype=np.int64), 4, 3)
    ease = Ease(regularization=1.0, positives_only=True)
    ease.fit(data)
    scores = ease.scores(np.array([3]))[0]
    assert scores[1] > scores[2] == 0.0  # item 2 was never a positive: nothing points to it
    everything = Ease(regularization=1.0)
    everything.fit(data)
    assert everything.scores(np.array([3]))[0][2] > 0


def test_the_global_split_cuts_everyone_at_one_moment_and_scores_only_known_users() -> None:
    users = np.array([0, 0, 0, 1, 1, 2, 2, 2, 0, 2], dtype=np.int32)
    times = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], dtype=np.int64)
    data = Interactions(users, np.arange(10, dtype=np.int32), np.full(10, 5.0, np.float32), times, 4, 10)
    train, test = global_time_split(data)
    assert train.times.max() < test.times.min()
    assert list(test.users) == [0, 2]  # user 3 never appears; every test user has a history
    late = Interactions(np.array([0, 3], dtype=np.int32), np.array([0, 1], dtype=np.int32),
                        np.full(2, 5.0, np.float32), np.array([1, 2], dtype=np.int64), 4, 2)
    assert len(global_time_split(late, share=0.5)[1].users) == 0  # user 3 has no past: not scored


def test_the_bootstrap_interval_brackets_the_mean_and_narrows_with_more_users() -> None:
    rng = np.random.default_rng(1)
    few, many = rng.random(50), rng.random(2000)
    low, high = metrics.bootstrap_interval(few)
    assert low < few.mean() < high
    wide, narrow = high - low, np.subtract(*metrics.bootstrap_interval(many)[::-1])
    assert narrow < wide / 4
    ratio_low, ratio_high = metrics.bootstrap_interval(2 * many, baseline=many)
    assert ratio_low == pytest.approx(2.0) and ratio_high == pytest.approx(2.0)


def test_transitions_count_what_others_rated_next_in_time_order() -> None:
    # Two users rate 0 then 1 then 2; one rates 0 then 2 (timestamps given out of order).
    users = np.array([0, 0, 0, 1, 1, 1, 2, 2], dtype=np.int32)
    items = np.array([2, 0, 1, 0, 1, 2, 0, 2], dtype=np.int32)
    times = np.array([3, 1, 2, 1, 2, 3, 5, 6], dtype=np.int64)
    data = Interactions(users, items, np.full(8, 5.0, np.float32), times, 3, 3)
    following, near = features.transitions(data)
    assert following[0].toarray().ravel() == pytest.approx([0.0, 2 / 3, 1 / 3])
    assert following[2].sum() == 0  # nothing came after item 2
    # Within the next steps, at 1/step: item 1 one step on twice (2), item 2 two steps on
    # twice and one step on once (0.5 + 0.5 + 1 = 2).
    assert near[0].toarray().ravel() == pytest.approx([0.0, 0.5, 0.5])


def test_clock_features_count_only_ratings_up_to_the_users_last_moment() -> None:
    day = int(features.DAY)
    # User 0 last rated at day 10; item 1 was rated on days 2, 9 and (after that moment) 12.
    users = np.array([0, 1, 2, 3], dtype=np.int32)
    items = np.array([0, 1, 1, 1], dtype=np.int32)
    times = np.array([10, 2, 9, 12], dtype=np.int64) * day
    data = Interactions(users, items, np.full(4, 5.0, np.float32), times, 4, 3)
    columns = features.clock_columns(data, np.array([0, 0]), np.array([1, 2]))
    assert np.expm1(columns["item_pop_user_week"]) == pytest.approx([1.0, 0.0])
    assert np.expm1(columns["item_pop_user_before"]) == pytest.approx([2.0, 0.0])
    assert columns["item_age_user_days"][0] == pytest.approx(8.0)
    assert np.isnan(columns["item_age_user_days"][1])  # nobody had rated item 2 yet
    assert columns["user_idle_days"] == pytest.approx([2.0, 2.0])


def test_the_ranker_leaves_out_the_feature_groups_it_does_not_use() -> None:
    chosen = ranker_features({"ease": True, "sequence": False})
    assert "ease" in chosen and "cf" in chosen
    assert "next_item" not in chosen and "liked_sim" not in chosen


@pytest.mark.slow
def test_our_pipeline_beats_every_fairly_trained_baseline_on_movielens() -> None:
    # Baselines at the winners of their validation grids (each tried on every rating and on the
    # positives only), the ranker at the winner of its recorded search: docs/benchmarks.md,
    # "Offline: MovieLens 100K". Measured 1.147-1.159x over EASE in five runs (2026-12-07); the goal
    # is 1.15x.
    folder = fetch_ml100k()  # the cache folder of `clipfeed recs eval`; downloaded once
    result = run_eval(load_ml100k(folder), tune=False)
    assert set(result.rows) == {"popularity", "item-cf", "ease", "als", "bpr", "clipfeed"}
    assert result.test_users == 907
    name, best = result.best_baseline()
    assert name == "ease", result.table()
    assert result.ratio() >= 1.10, result.table()
    assert result.ratio_interval[0] > 1.0, result.summary()  # ahead with 95 % confidence
    assert result.rows["clipfeed"]["recall@20"] > result.rows[name]["recall@20"]
    assert all(0 < row["coverage@10"] <= 1 and row["novelty@10"] > 0 for row in result.rows.values())
