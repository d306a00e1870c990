"""The baselines every evaluation reports beside our pipeline: popularity, item-based CF, EASE,
ALS and BPR (the last two from ``implicit``). Each is a scorer: ``fit`` on training interactions,
then ``scores`` gives a dense users × items matrix (ML-100K is small enough for that).

Each learns either from every rating or from the positives alone (``positives_only``): which is
better is tuned on validation like any other setting, so no baseline is handicapped by learning
from ratings of 1 or 2 as if they were likes while our ranker sees the ratings as features."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from clipfeed.recs.offline.dataset import POSITIVE_RATING, Interactions


def learning_rows(train: Interactions, positives_only: bool) -> Interactions:
    """The interactions a baseline learns from: all of them, or the positive ratings only."""
    return train.subset(train.ratings >= POSITIVE_RATING) if positives_only else train


class Scorer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...

    def fit(self, train: Interactions) -> None: ...

    def scores(self, users: np.ndarray) -> np.ndarray: ...


@dataclass
class Popularity:
    """Most interacted-with items, optionally only over the latest share of the training time."""

    recent_share: float = 1.0
    positives_only: bool = False
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def name(self) -> str:
        return "popularity"

    @property
    def params(self) -> dict[str, Any]:
        return {"recent_share": self.recent_share, "positives_only": self.positives_only}

    def fit(self, train: Interactions) -> None:
        train = learning_rows(train, self.positives_only)
        cut = np.quantile(train.times, 1.0 - self.recent_share) if self.recent_share < 1 else -np.inf
        recent = train.times >= cut
        self.counts = np.bincount(train.items[recent], minlength=train.n_items).astype(np.float32)

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.counts, (len(users), 1))


def item_similarity(matrix: sp.csr_matrix, neighbours: int, shrink: float = 0.0) -> sp.csr_matrix:
    """Cosine similarity between item columns, keeping the ``neighbours`` best per item (0: all)."""
    columns = matrix.tocsc().astype(np.float32)
    norms = np.sqrt(np.asarray(columns.multiply(columns).sum(axis=0))).ravel()
    overlap = (columns.T @ columns).toarray()
    similarity = overlap / (np.outer(norms, norms) + shrink + 1e-9)
    np.fill_diagonal(similarity, 0.0)
    if 0 < neighbours < similarity.shape[1]:
        cut = np.argpartition(-similarity, neighbours, axis=1)[:, neighbours:]
        np.put_along_axis(similarity, cut, 0.0, axis=1)
    return sp.csr_matrix(similarity)


@dataclass
class ItemCF:
    """Item-based collaborative filtering: a user's score for an item sums its similarity to
    the items they interacted with (top-``neighbours`` cosine, optional shrinkage)."""

    neighbours: int = 50
    shrink: float = 0.0
    positives_only: bool = False
    user_items: sp.csr_matrix | None = None
    similarity: sp.csr_matrix | None = None

    @property
    def name(self) -> str:
        return "item-cf"

    @property
    def params(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "shrink": self.shrink, "positives_only": self.positives_only}

    def fit(self, train: Interactions) -> None:
        self.user_items = learning_rows(train, self.positives_only).matrix()
        self.user_items.data[:] = 1.0
        self.similarity = item_similarity(self.user_items, self.neighbours, self.shrink)

    def scores(self, users: np.ndarray) -> np.ndarray:
        assert self.user_items is not None and self.similarity is not None
        return np.asarray((self.user_items[users] @ self.similarity).todense())


@dataclass
class FactorModel:
    """ALS or BPR matrix factorisation on implicit feedback (the ``implicit`` package)."""

    kind: str = "als"
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 10.0
    learning_rate: float = 0.05
    iterations: int = 20
    positives_only: bool = False
    seed: int = 7
    model: Any = None

    @property
    def name(self) -> str:
        return self.kind

    @property
    def params(self) -> dict[str, Any]:
        if self.kind == "als":
            return {"factors": self.factors, "regularization": self.regularization, "alpha": self.alpha,
                    "positives_only": self.positives_only}
        return {"factors": self.factors, "regularization": self.regularization,
                "learning_rate": self.learning_rate, "iterations": self.iterations,
                "positives_only": self.positives_only}

    def fit(self, train: Interactions) -> None:
        rows = learning_rows(train, self.positives_only)
        self.model = fit_factors(rows.matrix(), kind=self.kind, factors=self.factors,
                                 regularization=self.regularization, alpha=self.alpha,
                                 learning_rate=self.learning_rate, iterations=self.iterations,
                                 seed=self.seed)

    def scores(self, users: np.ndarray) -> np.ndarray:
        user_factors, item_factors = factor_arrays(self.model)
        return np.asarray(user_factors[users] @ item_factors.T)


@dataclass
class Ease:
    """EASE (Steck, 2019): an item-item weight matrix in closed form. It is the ridge regression
    of every item's column on all the others, with no item allowed to predict itself:
    ``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹``, then the diagonal set to zero. One
    inverse of an items × items matrix (1,682² for ML-100K: well under a second)."""

    regularization: float = 500.0
    positives_only: bool = False
    user_items: sp.csr_matrix | None = None
    weights: np.ndarray | None = None

    @property
    def name(self) -> str:
        return "ease"

    @property
    def params(self) -> dict[str, Any]:
        return {"regularization": self.regularization, "positives_only": self.positives_only}

    def fit(self, train: Interactions) -> None:
        self.user_items = learning_rows(train, self.positives_only).matrix()
        self.user_items.data[:] = 1.0
        self.weights = ease_weights(self.user_items, self.regularization)

    def scores(self, users: np.ndarray) -> np.ndarray:
        assert self.user_items is not None and self.weights is not None
        return np.asarray(self.user_items[users] @ self.weights)


def ease_weights(user_items: sp.csr_matrix, regularization: float) -> np.ndarray:
    """EASE's items × items weights for a binary users × items matrix (column j scores item j)."""
    gram = (user_items.T @ user_items).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += regularization
    precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def fit_factors(user_items: sp.csr_matrix, *, kind: str, factors: int, regularization: float,
                alpha: float = 10.0, learning_rate: float = 0.05, iterations: int = 20,
                seed: int = 7) -> Any:
    """Train an ``implicit`` ALS or BPR model on a users × items matrix (CPU, two threads)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    matrix = user_items.tocsr().astype(np.float32)
    matrix.data[:] = 1.0
    # implicit runs its own threads; BLAS threads inside them would only contend.
    with threadpool_limits(1, "blas"):
        if kind == "als":
            model: Any = AlternatingLeastSquares(factors=factors, regularization=regularization,
                                                 alpha=alpha, iterations=iterations, random_state=seed,
                                                 num_threads=2, calculate_training_loss=False)
        elif kind == "bpr":
            model = BayesianPersonalizedRanking(factors=factors, learning_rate=learning_rate,
                                                regularization=regularization, iterations=iterations,
                                                random_state=seed, num_threads=2)
        else:
            raise ValueError(f"unknown factor model {kind!r}")
        model.fit(matrix, show_progress=False)
    return model


def factor_arrays(model: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def grids() -> dict[str, Iterator[Scorer]]:
    """The small grid each baseline is tuned over on the validation split (same budget class
    for each: a handful of settings around the usual good values), each setting tried on every
    rating and on the positives only."""
    both = (False, True)
    return {
        "popularity": (Popularity(recent_share=share, positives_only=p)
                       for share, p in itertools.product((1.0, 0.3, 0.1, 0.03), both)),
        "item-cf": (ItemCF(neighbours=k, shrink=s, positives_only=p)
                    for k, s, p in itertools.product((20, 50, 100, 300, 0), (0.0, 10.0), both)),
        "ease": (Ease(regularization=r, positives_only=p)
                 for r, p in itertools.product((50.0, 100.0, 200.0, 400.0, 800.0, 1600.0), both)),
        "als": (FactorModel("als", factors=f, regularization=r, alpha=a, positives_only=p)
                for f, r, a, p in itertools.product((16, 32, 64, 128), (0.01, 0.1), (0.5, 1.0, 5.0, 20.0), both)),
        "bpr": (FactorModel("bpr", factors=f, learning_rate=lr, regularization=r, iterations=it, positives_only=p)
                for f, lr, r, it, p in itertools.product((32, 64), (0.005, 0.01, 0.05), (0.001, 0.01), (50, 100),
                                                         both)),
    }


# The winners of the grids above on each split's validation period (`clipfeed recs eval
# [--split global]`, 2026-12-06 and -07; docs/benchmarks.md, "Offline: MovieLens 100K").
# `run_eval(tune=False)` uses them.
RECORDED: dict[str, dict[str, dict[str, Any]]] = {
    "user": {
        "popularity": {"recent_share": 1.0, "positives_only": True},
        "item-cf": {"neighbours": 300, "shrink": 0.0, "positives_only": False},
        "ease": {"regularization": 200.0, "positives_only": True},
        "als": {"factors": 16, "regularization": 0.1, "alpha": 1.0, "positives_only": True},
        # 64 factors: the choice of both tuned runs of 2026-12-07 (32 on 2026-12-06; BPR's
        # threads move its validation figures).
        "bpr": {"factors": 64, "regularization": 0.001, "learning_rate": 0.005, "iterations": 100,
                "positives_only": False},
    },
    "global": {
        "popularity": {"recent_share": 0.1, "positives_only": True},
        "item-cf": {"neighbours": 300, "shrink": 0.0, "positives_only": True},
        "ease": {"regularization": 200.0, "positives_only": True},
        "als": {"factors": 16, "regularization": 0.1, "alpha": 5.0, "positives_only": True},
        "bpr": {"factors": 32, "regularization": 0.001, "learning_rate": 0.01, "iterations": 50,
                "positives_only": True},
    },
}
BASELINES = tuple(RECORDED["user"])


def recorded(name: str, params: dict[str, Any] | None = None, *, split: str = "user") -> Scorer:
    """Baseline ``name`` with ``params`` (default: its recorded winner on ``split``)."""
    params = RECORDED[split][name] if params is None else params
    if name in ("als", "bpr"):
        return FactorModel(name, **params)
    kinds: dict[str, Any] = {"popularity": Popularity, "item-cf": ItemCF, "ease": Ease}
    scorer: Scorer = kinds[name](**params)
    return scorer
