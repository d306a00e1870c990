"""``clipfeed recs eval``: metrics, protocol, and the goal on MovieLens 100K."""

from __future__ import annotations

import numpy as np
import pytest

from clipfeed.recs.offline import metrics
from clipfeed.recs.offline.dataset import Interactions, fetch_ml100k, load_ml100k, temporal_split
from clipfeed.recs.offline.run import run_eval


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


@pytest.mark.slow
def test_our_pipeline_beats_every_tuned_baseline_on_movielens_by_ten_percent() -> None:
    folder = fetch_ml100k()  # the cache folder of `clipfeed recs eval`; downloaded once
    result = run_eval(load_ml100k(folder))
    assert set(result.rows) == {"popularity", "item-cf", "als", "bpr", "clipfeed"}
    name, best = result.best_baseline()
    assert result.rows["clipfeed"]["ndcg@10"] >= 1.1 * best, result.table()
    assert result.rows["clipfeed"]["recall@20"] > result.rows[name]["recall@20"]
    assert all(0 < row["coverage@10"] <= 1 and row["novelty@10"] > 0 for row in result.rows.values())
