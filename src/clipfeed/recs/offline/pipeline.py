"""Our pipeline offline: several candidate generators (item-to-item co-engagement, recency-
weighted co-engagement, ALS and BPR retrieval, trending, content similarity; EASE too when its
quota is above 0) whose union is re-ranked by LightGBM ranking models trained on the
validation period (EASE's scores and the sequence features of ``features`` among their
features), the same two-stage shape as the live feed (``clipfeed.recs.sources`` then ``clipfeed.recs.ranker``).

Point-in-time: features for the validation labels are computed from the fit period only, and
features for the test labels from the training period only; nothing after a label leaks in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from clipfeed.recs.offline import features
from clipfeed.recs.offline.baselines import Ease, FactorModel, ItemCF, Popularity, item_similarity
from clipfeed.recs.offline.dataset import POSITIVE_RATING, Interactions

RECENT_DECAY = 0.85
RECENT_ITEMS = 30
# How many candidates each source puts forward per user. Chosen on the validation split by the
# search of `clipfeed recs eval --search-ranker` (docs/design/recommendations.md, "Offline
# evaluation"; space and trials on the Benchmarks page); 0 leaves a source out.
PER_SOURCE = {"cf": 100, "recent_cf": 100, "ease": 0, "als": 80, "bpr": 50, "trending": 30, "content": 30}

FEATURES = ["cf", "cf_rank", "recent_cf", "recent_cf_rank", "last_sim", "ease", "ease_rank", "als",
            "als_rank", "bpr", "bpr_rank", "log_pop", "log_pop_recent", "trend_ratio", "item_age_days",
            "item_idle_days", "content", "item_mean_rating", "item_pos_rate", "user_len",
            "user_mean_rating", "user_pos_rate", "cf_share", "liked_sim", "disliked_sim",
            "user_idle_days", "user_span_days", "item_pop_user_week", "item_pop_user_month",
            "item_pop_user_before", "item_age_user_days",
            "ease_norm", "als_norm", "cf_norm", "recent_cf_norm",
            "liked_genre", "disliked_genre", "recent_ease", "recent_ease_rank", "next_item", "next_item_near"]
# Optional groups: whether the ranker uses each is a dimension of the recorded search.
OPTIONAL_FEATURES: dict[str, tuple[str, ...]] = {
    "ease": ("ease", "ease_rank"),
    "rating": ("liked_sim", "disliked_sim"),
    "clock": ("user_idle_days", "user_span_days", "item_pop_user_week", "item_pop_user_month",
              "item_pop_user_before", "item_age_user_days"),
    "normalised": ("ease_norm", "als_norm", "cf_norm", "recent_cf_norm"),
    "genre": ("liked_genre", "disliked_genre"),
    "sequence": ("recent_ease", "recent_ease_rank", "next_item", "next_item_near"),
}


@dataclass
class CandidateSet:
    users: np.ndarray        # one row per (user, candidate)
    items: np.ndarray
    features: np.ndarray
    fallback: dict[int, np.ndarray] = field(default_factory=dict)  # co-engagement order per user
    # Per row, the candidate's rank in each source (0 = that source's best unseen item).
    source_ranks: dict[str, np.ndarray] = field(default_factory=dict)

    def subset(self, mask: np.ndarray) -> CandidateSet:
        return CandidateSet(self.users[mask], self.items[mask], self.features[mask], self.fallback,
                            {name: ranks[mask] for name, ranks in self.source_ranks.items()})

    @staticmethod
    def stacked(sets: list[CandidateSet], n_users: int) -> CandidateSet:
        """Several periods' candidates as one training set, each period's users renumbered
        apart (a user in two periods is two ranking groups); for training only."""
        return CandidateSet(np.concatenate([c.users + period * n_users for period, c in enumerate(sets)]),
                            np.concatenate([c.items for c in sets]), np.concatenate([c.features for c in sets]))

    def within(self, quotas: dict[str, int]) -> np.ndarray:
        """The rows that smaller quotas would have produced (candidates built once with larger)."""
        keep = np.zeros(len(self.users), dtype=bool)
        for name, count in quotas.items():
            keep |= self.source_ranks[name] < count
        return keep


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, axis=1)
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(scores.shape[1])[None, :]
    return ranks.astype(np.float32)


def _recency_weights(history: Interactions, users: np.ndarray) -> sp.csr_matrix:
    """Users × items: the latest interactions weigh most (decay per step back in time)."""
    rows, cols, values = [], [], []
    ordered = history.history()
    for row, user in enumerate(users):
        recent = ordered.get(int(user), [])[-RECENT_ITEMS:]
        for back, item in enumerate(reversed(recent)):
            rows.append(row)
            cols.append(item)
            values.append(RECENT_DECAY ** back)
    return sp.csr_matrix((values, (rows, cols)), shape=(len(users), history.n_items), dtype=np.float32)


def build_candidates(history: Interactions, users: np.ndarray, tuned: dict[str, dict[str, Any]],
                     quotas: dict[str, int] | None = None) -> CandidateSet:
    """Generate candidates for ``users`` from ``history`` alone and compute their features."""
    quotas = PER_SOURCE if quotas is None else quotas
    n_items = history.n_items
    cf = ItemCF(**tuned["item-cf"])
    cf.fit(history)
    ease = Ease(**tuned["ease"])
    ease.fit(history)
    als = FactorModel("als", **tuned["als"])
    als.fit(history)
    bpr = FactorModel("bpr", **tuned["bpr"])
    bpr.fit(history)
    pop_all, pop_recent = Popularity(1.0), Popularity(0.1)
    pop_all.fit(history)
    pop_recent.fit(history)

    seen = history.matrix()[users].toarray() > 0
    scores = {"cf": cf.scores(users), "ease": ease.scores(users), "als": als.scores(users),
              "bpr": bpr.scores(users)}
    weights = _recency_weights(history, users)
    assert cf.similarity is not None
    scores["recent_cf"] = np.asarray((weights @ cf.similarity).todense())
    assert ease.weights is not None
    scores["recent_ease"] = np.asarray(weights @ ease.weights)
    # The most recent item alone: over what was rated right after it by others, and over the
    # full similarity (no neighbour cut).
    last_rows = sp.csr_matrix(weights.multiply(weights >= 0.999))
    following, near = features.transitions(history)
    scores["next_item"] = np.asarray((last_rows @ following).todense())
    scores["next_item_near"] = np.asarray((weights @ near).todense())
    full = item_similarity(cf.user_items, 0) if cf.user_items is not None else cf.similarity
    scores["last_sim"] = np.asarray((last_rows @ full).todense())
    # Mean similarity to what the user rated well, and to what they rated 2 or less: the ratings
    # a baseline learning from interactions alone cannot tell apart.
    rated = history.matrix(weights=history.ratings)[users]
    for name, keep in (("liked_sim", lambda r: r >= POSITIVE_RATING), ("disliked_sim", lambda r: r <= 2.0)):
        chosen_rows = rated.copy()
        chosen_rows.data = keep(chosen_rows.data).astype(np.float32)
        chosen_rows.eliminate_zeros()
        counts = np.maximum(np.asarray(chosen_rows.sum(axis=1)).ravel(), 1.0)
        scores[name] = np.asarray((chosen_rows @ full).todense()) / counts[:, None]
    profile = np.asarray(weights @ history.genres)
    profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-9)
    scores["content"] = profile @ history.genres.T
    scores["trending"] = np.tile(pop_recent.counts, (len(users), 1))
    for name in scores:
        scores[name] = np.where(seen, -np.inf, scores[name])
    ranks = {name: _ranks(values) for name, values in scores.items()
             if name not in ("last_sim", "next_item", "next_item_near", *OPTIONAL_FEATURES["rating"])}

    chosen = np.zeros((len(users), n_items), dtype=bool)
    for name, count in quotas.items():
        chosen |= ranks[name] < count
    chosen &= ~seen
    rows, items = np.nonzero(chosen)

    stats = _item_stats(history)
    users_len = np.bincount(history.users, minlength=history.n_users).astype(np.float32)
    user_mean = _mean_by(history.users, history.ratings, history.n_users)
    user_pos = _mean_by(history.users, (history.ratings >= POSITIVE_RATING).astype(np.float32), history.n_users)
    cf_total = np.maximum(np.nan_to_num(scores["cf"], neginf=0.0).sum(axis=1), 1e-9)
    user_ids = users[rows]
    columns = {
        "cf": scores["cf"][rows, items], "cf_rank": ranks["cf"][rows, items],
        "recent_cf": scores["recent_cf"][rows, items], "recent_cf_rank": ranks["recent_cf"][rows, items],
        "last_sim": scores["last_sim"][rows, items],
        "ease": scores["ease"][rows, items], "ease_rank": ranks["ease"][rows, items],
        "als": scores["als"][rows, items], "als_rank": ranks["als"][rows, items],
        "bpr": scores["bpr"][rows, items], "bpr_rank": ranks["bpr"][rows, items],
        "log_pop": np.log1p(pop_all.counts[items]), "log_pop_recent": np.log1p(pop_recent.counts[items]),
        "trend_ratio": (pop_recent.counts[items] + 1) / (pop_all.counts[items] + 10),
        "item_age_days": (stats["end"] - stats["first"][items]) / 86400.0,
        "item_idle_days": (stats["end"] - stats["last"][items]) / 86400.0,
        "content": scores["content"][rows, items],
        "item_mean_rating": stats["mean"][items], "item_pos_rate": stats["pos_rate"][items],
        "user_len": users_len[user_ids], "user_mean_rating": user_mean[user_ids],
        "user_pos_rate": user_pos[user_ids], "cf_share": scores["cf"][rows, items] / cf_total[rows],
        "liked_sim": scores["liked_sim"][rows, items], "disliked_sim": scores["disliked_sim"][rows, items],
        **features.clock_columns(history, user_ids, items),
        **{f"{name}_norm": features.per_user_scaled(scores[name])[rows, items]
           for name in ("ease", "als", "cf", "recent_cf")},
        **features.genre_columns(history, users, rows, items),
        "recent_ease": scores["recent_ease"][rows, items], "recent_ease_rank": ranks["recent_ease"][rows, items],
        "next_item": scores["next_item"][rows, items], "next_item_near": scores["next_item_near"][rows, items],
    }
    table = np.column_stack([columns[name] for name in FEATURES]).astype(np.float32)
    fallback = {int(user): np.argsort(-scores["recent_cf"][row])[:50] for row, user in enumerate(users)}
    source_ranks = {name: ranks[name][rows, items] for name in ranks}
    return CandidateSet(user_ids.astype(np.int64), items.astype(np.int64), table, fallback, source_ranks)


def _mean_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    totals = np.bincount(index, weights=values, minlength=size)
    counts = np.bincount(index, minlength=size)
    return (totals / np.maximum(counts, 1)).astype(np.float32)


def _item_stats(history: Interactions) -> dict[str, Any]:
    n = history.n_items
    first = np.full(n, history.times.max(), dtype=np.float64)
    last = np.full(n, history.times.min(), dtype=np.float64)
    np.minimum.at(first, history.items, history.times)
    np.maximum.at(last, history.items, history.times)
    return {"first": first, "last": last, "end": float(history.times.max()),
            "mean": _mean_by(history.items, history.ratings, n),
            "pos_rate": _mean_by(history.items, (history.ratings >= POSITIVE_RATING).astype(np.float32), n)}


def labels_for(candidates: CandidateSet, relevant: dict[int, set[int]]) -> np.ndarray:
    return np.array([item in relevant.get(int(user), ()) for user, item in
                     zip(candidates.users, candidates.items, strict=True)], dtype=np.float32)


def top_k(candidates: CandidateSet, scores: np.ndarray, k: int = 20) -> dict[int, np.ndarray]:
    """Each user's ``k`` best candidates by ``scores``, padded from co-engagement if short."""
    out: dict[int, np.ndarray] = {}
    order = np.lexsort((-scores, candidates.users))
    users_sorted = candidates.users[order]
    starts = np.flatnonzero(np.r_[True, users_sorted[1:] != users_sorted[:-1]])
    ends = np.r_[starts[1:], len(order)]
    for start, end in zip(starts, ends, strict=True):
        user = int(users_sorted[start])
        ranked = list(candidates.items[order[start:end]][:k])
        for item in candidates.fallback.get(user, []):
            if len(ranked) >= k:
                break
            if item not in ranked:
                ranked.append(int(item))
        out[user] = np.array(ranked[:k], dtype=np.int64)
    return out
