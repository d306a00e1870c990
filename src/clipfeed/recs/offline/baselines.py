"""The baselines every evaluation reports beside our pipeline: popularity, item-based CF, ALS
and BPR (the last two from ``implicit``). Each is a scorer: ``fit`` on training interactions,
then ``scores`` gives a dense users × items matrix (ML-100K is small enough for that)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from clipfeed.recs.offline.dataset import Interactions


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
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def name(self) -> str:
        return "popularity"

    @property
    def params(self) -> dict[str, Any]:
        return {"recent_share": self.recent_share}

    def fit(self, train: Interactions) -> None:
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
    user_items: sp.csr_matrix | None = None
    similarity: sp.csr_matrix | None = None

    @property
    def name(self) -> str:
        return "item-cf"

    @property
    def params(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "shrink": self.shrink}

    def fit(self, train: Interactions) -> None:
        self.user_items = train.matrix()
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
    seed: int = 7
    model: Any = None

    @property
    def name(self) -> str:
        return self.kind

    @property
    def params(self) -> dict[str, Any]:
        if self.kind == "als":
            return {"factors": self.factors, "regularization": self.regularization, "alpha": self.alpha}
        return {"factors": self.factors, "regularization": self.regularization,
                "learning_rate": self.learning_rate, "iterations": self.iterations}

    def fit(self, train: Interactions) -> None:
        self.model = fit_factors(train.matrix(), kind=self.kind, factors=self.factors,
                                 regularization=self.regularization, alpha=self.alpha,
                                 learning_rate=self.learning_rate, iterations=self.iterations,
                                 seed=self.seed)

    def scores(self, users: np.ndarray) -> np.ndarray:
        user_factors, item_factors = factor_arrays(self.model)
        return np.asarray(user_factors[users] @ item_factors.T)


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
    for each: a handful of settings around the usual good values)."""
    return {
        "popularity": (Popularity(recent_share=share) for share in (1.0, 0.3, 0.1, 0.03)),
        "item-cf": (ItemCF(neighbours=k, shrink=s)
                    for k, s in itertools.product((20, 50, 100, 300, 0), (0.0, 10.0))),
        "als": (FactorModel("als", factors=f, regularization=r, alpha=a)
                for f, r, a in itertools.product((16, 32, 64, 128), (0.01, 0.1), (0.5, 1.0, 5.0, 20.0))),
        "bpr": (FactorModel("bpr", factors=f, learning_rate=lr, regularization=r, iterations=it)
                for f, lr, r, it in itertools.product((32, 64), (0.005, 0.01, 0.05), (0.001, 0.01), (50, 100))),
    }
