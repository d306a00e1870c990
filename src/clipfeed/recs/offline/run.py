"""``clipfeed recs eval``: baselines and our pipeline on one temporal split, in one run.

Protocol (docs/design/recommendations.md, "Offline evaluation"): implicit feedback from
ratings (every rating is an interaction; a rating of 4 or 5 is a positive), each user's
earliest 80 % of events train and the rest test; the training part is split the same way
again (fit / validation) to tune every baseline on a small grid and to train our ranker.
Ranking is over every item the user has not interacted with in training. Metrics average over
test users with at least one positive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clipfeed.recs.offline import metrics
from clipfeed.recs.offline.baselines import Scorer, grids
from clipfeed.recs.offline.dataset import Interactions, temporal_split
from clipfeed.recs.offline.pipeline import FEATURES, CandidateSet, build_candidates, labels_for, top_k

Progress = Callable[[str], None]
K_MAX = 20


@dataclass
class EvalResult:
    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    tuned: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def best_baseline(self, metric: str = "ndcg@10") -> tuple[str, float]:
        name = max((n for n in self.rows if n != "clipfeed"), key=lambda n: self.rows[n][metric])
        return name, self.rows[name][metric]

    def table(self) -> str:
        columns = ["recall@10", "ndcg@10", "recall@20", "ndcg@20", "coverage@10", "novelty@10", "diversity@10"]
        lines = ["| model | tuned | " + " | ".join(columns) + " |",
                 "|---|---|" + "---:|" * len(columns)]
        for name, row in self.rows.items():
            params = ", ".join(f"{k}={v}" for k, v in self.tuned.get(name, {}).items())
            lines.append(f"| {name} | {params} | " + " | ".join(f"{row[c]:.4f}" for c in columns) + " |")
        return "\n".join(lines)


def _top(scores: np.ndarray, seen: np.ndarray, k: int = K_MAX) -> np.ndarray:
    masked = np.where(seen, -np.inf, scores)
    best = np.argpartition(-masked, k, axis=1)[:, :k]
    order = np.take_along_axis(masked, best, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(best, order, axis=1)


def _recommend(scorer: Scorer, history: Interactions, users: np.ndarray) -> dict[int, np.ndarray]:
    scorer.fit(history)
    seen = history.matrix()[users].toarray() > 0
    tops = _top(scorer.scores(users), seen)
    return {int(user): tops[row] for row, user in enumerate(users)}


def _evaluate(recommended: dict[int, np.ndarray], relevant: dict[int, set[int]],
              history: Interactions) -> dict[str, float]:
    popularity = np.bincount(history.items, minlength=history.n_items).astype(np.float64)
    return metrics.evaluate(recommended, relevant, n_items=history.n_items, popularity=popularity,
                            n_users=history.n_users, genres=history.genres)


def run_eval(data: Interactions, *, progress: Progress = lambda _: None) -> EvalResult:
    started = time.perf_counter()
    result = EvalResult()
    train, test = temporal_split(data)
    fit, validation = temporal_split(train)
    test_relevant, val_relevant = test.positives(), validation.positives()
    test_users = np.array(sorted(test_relevant), dtype=np.int64)
    val_users = np.array(sorted(val_relevant), dtype=np.int64)

    for name, candidates in grids().items():
        best: tuple[float, Scorer] | None = None
        for scorer in candidates:
            score = _evaluate(_recommend(scorer, fit, val_users), val_relevant, fit)["ndcg@10"]
            progress(f"tune {name} {scorer.params}: validation ndcg@10 {score:.4f}")
            if best is None or score > best[0]:
                best = (score, scorer)
        assert best is not None
        scorer = best[1]
        result.tuned[name] = scorer.params
        result.rows[name] = _evaluate(_recommend(scorer, train, test_users), test_relevant, train)
        progress(f"{name}: test ndcg@10 {result.rows[name]['ndcg@10']:.4f}")

    generators = {"item-cf": result.tuned["item-cf"], "als": result.tuned["als"], "bpr": result.tuned["bpr"]}
    progress("clipfeed: candidates and features on the validation period")
    val_candidates = build_candidates(fit, val_users, generators)
    ranker = train_ranker(val_candidates, labels_for(val_candidates, val_relevant), progress=progress)
    progress("clipfeed: candidates and features on the test period")
    test_candidates = build_candidates(train, test_users, generators)
    recommended = top_k(test_candidates, ranker.predict(test_candidates.features), K_MAX)
    result.rows["clipfeed"] = _evaluate(recommended, test_relevant, train)
    result.tuned["clipfeed"] = {"trees": ranker.num_trees(), "candidates/user":
                                round(len(test_candidates.items) / max(1, len(test_users)))}
    result.seconds = time.perf_counter() - started
    return result


def train_ranker(candidates: CandidateSet, labels: np.ndarray, *, progress: Progress = lambda _: None,
                 seed: int = 7) -> Any:
    """LambdaRank over each user's candidates; the number of trees is chosen by early stopping
    on a fifth of the users, then the model is refit on all of them."""
    import lightgbm as lgb

    params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "learning_rate": 0.03,
              "num_leaves": 31, "min_data_in_leaf": 40, "feature_fraction": 0.8, "bagging_fraction": 0.8,
              "bagging_freq": 1, "lambda_l2": 1.0, "num_threads": 1, "verbose": -1, "seed": seed,
              "lambdarank_truncation_level": 20}
    users = np.unique(candidates.users)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(users, size=len(users) // 5, replace=False).tolist())
    held_mask = np.array([int(u) in held for u in candidates.users])

    def dataset(mask: np.ndarray) -> Any:
        order = np.flatnonzero(mask)
        order = order[np.argsort(candidates.users[order], kind="stable")]
        _, groups = np.unique(candidates.users[order], return_counts=True)
        return lgb.Dataset(candidates.features[order], labels[order], group=groups,
                           feature_name=FEATURES, free_raw_data=False)

    train_set, valid_set = dataset(~held_mask), dataset(held_mask)
    probe = lgb.train(params, train_set, num_boost_round=1000, valid_sets=[valid_set],
                      callbacks=[lgb.early_stopping(50, verbose=False)])
    rounds = max(50, probe.best_iteration)
    progress(f"ranker: {rounds} trees (held-out ndcg@10 {probe.best_score['valid_0']['ndcg@10']:.4f})")
    return lgb.train(params, dataset(np.ones(len(labels), dtype=bool)), num_boost_round=rounds)
