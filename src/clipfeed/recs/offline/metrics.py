"""Top-K metrics: Recall@K, NDCG@K, catalogue coverage, novelty, intra-list diversity."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

KS = (10, 20)


def ndcg_at(ranked: np.ndarray, relevant: set[int], k: int) -> float:
    gains = [1.0 / np.log2(position + 2) for position, item in enumerate(ranked[:k]) if int(item) in relevant]
    ideal = sum(1.0 / np.log2(position + 2) for position in range(min(k, len(relevant))))
    return float(sum(gains) / ideal) if ideal else 0.0


def recall_at(ranked: np.ndarray, relevant: set[int], k: int) -> float:
    hits = sum(1 for item in ranked[:k] if int(item) in relevant)
    return hits / min(k, len(relevant)) if relevant else 0.0


def evaluate(recommended: Mapping[int, np.ndarray], relevant: Mapping[int, set[int]], *,
             n_items: int, popularity: np.ndarray, n_users: int, genres: np.ndarray) -> dict[str, float]:
    """Averages over the users that have relevant items. Recall is capped by K (so a perfect
    list scores 1 even for users with more than K relevant items)."""
    users = [user for user in relevant if relevant[user] and user in recommended]
    out: dict[str, float] = {}
    for k in KS:
        out[f"recall@{k}"] = float(np.mean([recall_at(recommended[u], relevant[u], k) for u in users]))
        out[f"ndcg@{k}"] = float(np.mean([ndcg_at(recommended[u], relevant[u], k) for u in users]))
    top10 = [recommended[u][:10] for u in users]
    shown = np.unique(np.concatenate(top10)) if top10 else np.array([], dtype=np.int64)
    out["coverage@10"] = len(shown) / n_items
    # Novelty: mean self-information of what is shown (rare items are more novel).
    share = np.clip(popularity / max(1, n_users), 1e-6, 1.0)
    out["novelty@10"] = float(np.mean([np.mean(-np.log2(share[items])) for items in top10]))
    out["diversity@10"] = float(np.mean([intra_list_diversity(genres[items]) for items in top10]))
    out["users"] = float(len(users))
    return out


def intra_list_diversity(vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance between the items of one list (vectors normalised)."""
    n = len(vectors)
    if n < 2:
        return 0.0
    similarity = vectors @ vectors.T
    off_diagonal = (similarity.sum() - np.trace(similarity)) / (n * (n - 1))
    return float(1.0 - off_diagonal)


def ndcg_by_user(recommended: Mapping[int, np.ndarray], relevant: Mapping[int, set[int]],
                 users: np.ndarray, k: int = 10) -> np.ndarray:
    return np.array([ndcg_at(recommended[int(u)], relevant[int(u)], k) for u in users])


def bootstrap_interval(values: np.ndarray, *, baseline: np.ndarray | None = None, resamples: int = 2000,
                       seed: int = 7) -> tuple[float, float]:
    """95 % percentile interval of the mean of per-user ``values`` (or, given ``baseline`` for
    the same users, of the ratio of the two means), resampling users with replacement."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[picks].mean(axis=1)
    if baseline is not None:
        means = means / np.maximum(baseline[picks].mean(axis=1), 1e-12)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)
