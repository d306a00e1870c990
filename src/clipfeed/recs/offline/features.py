"""Candidate features beyond the sources' own scores, each an optional group of the ranker
(whether it uses a group is a dimension of the recorded search in ``tuning``):

- the clock: where the item stood at the moment of the user's last rating (its ratings in the
  week, the month and all the time before, its age then) and how long the user has been active;
- per-user normalised scores: a source's score as a z-score over the user's unseen items, so
  that a model can compare users whose scores live on different scales;
- genres: the item's genres against those of what the user rated well and badly;
- sequence: what others rated next after the user's latest items (item-to-item transitions),
  and EASE applied to the recency-weighted history.

Every feature is computed from the history passed in, never from what follows it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from clipfeed.recs.offline.dataset import POSITIVE_RATING, Interactions

DAY = 86400.0
# Transitions "within the next few ratings" count the later item at 1/step, up to this step.
NEAR_STEPS = 5


def clock_columns(history: Interactions, user_ids: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
    """Per candidate row: the item's ratings in the week, the month and all the time up to the
    moment of the user's last rating, and its age then (NaN if nobody had rated it yet); the
    user's days since that moment and their days of activity before it. Only ratings up to the
    user's moment count, so none of these looks past it."""
    times = history.times.astype(np.float64)
    last = np.full(history.n_users, -np.inf)
    first = np.full(history.n_users, np.inf)
    np.maximum.at(last, history.users, times)
    np.minimum.at(first, history.users, times)
    moment = last[user_ids]
    # One sorted key per rating (item, then time): a count over a time window is two bisections.
    span = float(times.max()) + 1.0
    keys = np.sort(history.items.astype(np.float64) * span + times)
    base = items.astype(np.float64) * span

    def ratings_since(start: np.ndarray) -> np.ndarray:
        return np.searchsorted(keys, base + moment, side="right") - np.searchsorted(keys, base + start)

    item_first = np.full(history.n_items, np.inf)
    np.minimum.at(item_first, history.items, times)
    age = (moment - item_first[items]) / DAY
    return {"user_idle_days": (times.max() - moment) / DAY,
            "user_span_days": (moment - first[user_ids]) / DAY,
            "item_pop_user_week": np.log1p(ratings_since(moment - 7 * DAY)),
            "item_pop_user_month": np.log1p(ratings_since(moment - 30 * DAY)),
            "item_pop_user_before": np.log1p(ratings_since(np.zeros_like(moment))),
            "item_age_user_days": np.where(age >= 0, age, np.nan)}


def per_user_scaled(scores: np.ndarray) -> np.ndarray:
    """Each row's finite scores as z-scores (seen items, -inf, become NaN)."""
    finite = np.where(np.isfinite(scores), scores, np.nan)
    mean = np.nanmean(finite, axis=1, keepdims=True)
    spread = np.nanstd(finite, axis=1, keepdims=True)
    return (finite - mean) / np.maximum(spread, 1e-9)


def genre_columns(history: Interactions, users: np.ndarray, rows: np.ndarray,
                  items: np.ndarray) -> dict[str, np.ndarray]:
    """Per candidate row, the cosine of the item's genres with the summed genres of what the
    user rated well (``liked_genre``) and 2 or less (``disliked_genre``)."""
    rated = history.matrix(weights=history.ratings)[users]
    out = {}
    for name, keep in (("liked_genre", lambda r: r >= POSITIVE_RATING), ("disliked_genre", lambda r: r <= 2.0)):
        chosen = rated.copy()
        chosen.data = keep(chosen.data).astype(np.float32)
        profile = np.asarray(chosen @ history.genres)
        profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-9)
        out[name] = np.einsum("ij,ij->i", profile[rows], history.genres[items])
    return out


def transitions(history: Interactions) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Items × items from every user's ratings in time order, each row summing to 1: how often
    item j was rated right after item i, and how often within the next ``NEAR_STEPS`` ratings
    (weighted 1/step)."""
    rows: list[int] = []
    cols: list[int] = []
    steps: list[int] = []
    for sequence in history.history().values():
        for position, item in enumerate(sequence):
            for step, later in enumerate(sequence[position + 1: position + 1 + NEAR_STEPS], start=1):
                rows.append(item)
                cols.append(later)
                steps.append(step)
    step_array = np.asarray(steps, dtype=np.float32)
    return (_row_normalised(rows, cols, (step_array == 1).astype(np.float32), history.n_items),
            _row_normalised(rows, cols, 1.0 / np.maximum(step_array, 1.0), history.n_items))


def _row_normalised(rows: list[int], cols: list[int], values: np.ndarray, n: int) -> sp.csr_matrix:
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(n, n), dtype=np.float32)
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(totals, 1e-9)) @ matrix)
