"""Rankers: a multi-objective LightGBM model (completion, like, share, expected watch time),
combined by configurable weights, and the heuristic used only until a model exists.

Each objective is its own booster (binary for the three events, regression on log watch
seconds for watch time), so weights can change at serving time without retraining.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from clipfeed.recs.features import FEATURE_NAMES, column

OBJECTIVES = ("completion", "like", "share", "watch")
WATCH_SCALE_S = 30.0  # expected watch seconds that count as much as one certain completion


def parse_weights(spec: str) -> dict[str, float]:
    """``"completion=1,like=2"`` → ``{"completion": 1.0, "like": 2.0}`` (unknown names refused)."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        out[name.strip()] = float(value)
    return out


class Ranker(Protocol):
    version: str

    def objectives(self, features: np.ndarray) -> dict[str, np.ndarray]: ...

    def score(self, features: np.ndarray, weights: Mapping[str, float]) -> np.ndarray: ...


def combine(predicted: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    total = np.zeros(len(next(iter(predicted.values()))), dtype=np.float64)
    for name, values in predicted.items():
        scale = 1.0 / WATCH_SCALE_S if name == "watch" else 1.0
        total += weights.get(name, 0.0) * scale * values
    return total


def viewer_fit(features: np.ndarray) -> np.ndarray:
    """How well each clip fits the viewer, as a change in log-odds of engaging with it: content
    close to what they engaged with (``taste_dot``) or to what they turned down
    (``dislike_dot``), and their long-term and live affinities for the clip's creator and
    hashtags. Zero for a viewer the feed knows nothing about. Shared by the heuristic ranker
    and the exploration draws (``clipfeed.recs.compose``)."""
    f = features
    return (2.0 * f[:, column("taste_dot")] - 2.0 * f[:, column("dislike_dot")]
            + f[:, column("creator_affinity")] + f[:, column("creator_live")]
            + 1.5 * f[:, column("tag_affinity")] + 1.5 * f[:, column("tag_live")])


def shift_odds(rate: np.ndarray, log_odds: np.ndarray) -> np.ndarray:
    """``rate`` with its log-odds moved by ``log_odds`` (rates clipped away from 0 and 1)."""
    p = np.clip(rate, 1e-4, 1 - 1e-4)
    return 1.0 / (1.0 + np.exp(-(np.log(p / (1 - p)) + log_odds)))


@dataclass
class HeuristicRanker:
    """Hand-set estimates from the live profile and smoothed clip rates. Used only when the
    registry has no model yet (a new installation), never alongside one.

    Each event's chance is the clip's smoothed rate with its odds moved by the viewer's fit
    (``viewer_fit``): a clip that suits this viewer beats a more popular one that does not,
    which a multiplier within a fixed band (this ranker's first form) could not express.
    Expected watch time follows the completion estimate."""

    version: str = "heuristic"

    def objectives(self, features: np.ndarray) -> dict[str, np.ndarray]:
        f = features
        fit = viewer_fit(f)
        complete_rate = f[:, column("clip_complete_rate")]
        completion = shift_odds(complete_rate, fit)
        like = shift_odds(f[:, column("clip_like_rate")], fit)
        share = shift_odds(f[:, column("clip_share_rate")], fit)
        lift = completion / np.maximum(complete_rate, 1e-4)
        watch = f[:, column("clip_duration_s")] * np.clip(f[:, column("clip_watch_fraction")] * lift, 0, 1)
        return {"completion": completion, "like": like, "share": share, "watch": watch}

    def score(self, features: np.ndarray, weights: Mapping[str, float]) -> np.ndarray:
        return combine(self.objectives(features), weights)


@dataclass
class ModelRanker:
    version: str
    boosters: dict[str, Any]
    schema: list[str] = field(default_factory=lambda: list(FEATURE_NAMES))

    def objectives(self, features: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for name, booster in self.boosters.items():
            predicted = np.asarray(booster.predict(features, num_threads=1))
            out[name] = np.expm1(np.clip(predicted, 0, 8)) if name == "watch" else predicted
        return out

    def score(self, features: np.ndarray, weights: Mapping[str, float]) -> np.ndarray:
        return combine(self.objectives(features), weights)

    def to_strings(self) -> dict[str, str]:
        return {name: booster.model_to_string() for name, booster in self.boosters.items()}

    @classmethod
    def from_strings(cls, version: str, models: Mapping[str, str], schema: list[str]) -> ModelRanker:
        import lightgbm as lgb

        return cls(version, {name: lgb.Booster(model_str=text) for name, text in models.items()}, schema)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula (0.5 when one class is missing)."""
    positives = labels > 0.5
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if not n_pos or not n_neg:
        return 0.5
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="mergesort")] = np.arange(1, len(scores) + 1)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def train_ranker(features: np.ndarray, labels: Mapping[str, np.ndarray], times: np.ndarray, *,
                 seed: int = 7) -> tuple[dict[str, Any], dict[str, float]]:
    """Fit one booster per objective on the earliest 80 % of rows (by impression time) and
    report metrics on the latest 20 %, then refit on everything with the same tree count."""
    import lightgbm as lgb

    order = np.argsort(times, kind="stable")
    cut = int(len(order) * 0.8)
    early, late = order[:cut], order[cut:]
    boosters: dict[str, Any] = {}
    metrics: dict[str, float] = {"rows": float(len(times))}
    for name in OBJECTIVES:
        target = np.log1p(labels[name] / 1000.0) if name == "watch" else labels[name]
        params = {"objective": "regression" if name == "watch" else "binary", "learning_rate": 0.08,
                  "num_leaves": 15, "min_data_in_leaf": 20, "feature_fraction": 0.9, "lambda_l2": 1.0,
                  "num_threads": 1, "verbose": -1, "seed": seed,
                  "force_col_wise": True}
        constant = name != "watch" and len(np.unique(target)) < 2
        if constant:  # e.g. no share yet: a model of a constant would fail to train
            target = target.copy()
            target[0] = 1.0 - target[0]
        probe = lgb.train(params, lgb.Dataset(features[early], target[early]), num_boost_round=300,
                          valid_sets=[lgb.Dataset(features[late], target[late])],
                          callbacks=[lgb.early_stopping(30, verbose=False)])
        predicted = np.asarray(probe.predict(features[late]))
        if name == "watch":
            metrics["watch_rmse_log"] = float(np.sqrt(np.mean((predicted - target[late]) ** 2)))
        else:
            metrics[f"{name}_auc"] = auc(target[late], predicted)
        rounds = max(10, probe.best_iteration or 50)
        boosters[name] = lgb.train(params, lgb.Dataset(features, target), num_boost_round=rounds)
    return boosters, metrics
