"""Diversity: maximal marginal relevance on content sketches, then page rules (no two clips
of one creator within ``creator_gap`` positions, at most ``hashtag_cap`` clips sharing a hashtag
in any window of a page's length)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clipfeed.recs.cards import ClipCard


def mmr(scores: np.ndarray, vectors: np.ndarray, count: int, lam: float) -> list[int]:
    """Indices picked greedily by ``lam·relevance − (1−lam)·max similarity to those picked``.
    Relevance is rescaled to [0, 1] so ``lam`` means the same whatever the ranker's scale."""
    n = len(scores)
    if n == 0:
        return []
    spread = float(scores.max() - scores.min())
    relevance = (scores - scores.min()) / spread if spread > 0 else np.zeros(n)
    similarity = (vectors @ vectors.T).astype(np.float64)
    gain = lam * relevance
    value = np.array(gain, dtype=np.float64)  # nothing picked yet: no similarity penalty
    closest = np.full(n, -np.inf)
    chosen: list[int] = []
    for _ in range(min(count, n)):
        pick = int(value.argmax())
        chosen.append(pick)
        np.maximum(closest, similarity[pick], out=closest)
        # In place: this loop runs once per buffered clip on every build and re-rank.
        np.multiply(closest, lam - 1, out=value)
        value += gain
        value[chosen] = -np.inf
    return chosen


def apply_rules(order: Sequence[ClipCard], *, creator_gap: int, hashtag_cap: int, window: int,
                avoid: frozenset[int] | set[int] = frozenset()) -> list[ClipCard]:
    """Reorder so the rules hold where possible; when nothing left fits, the best remaining
    clip goes next anyway (a short list of one creator still gets served). Clips in ``avoid``
    (what the viewer just turned down) are never pulled forward to satisfy a rule: spreading
    hashtags must not bring back what a skip-heavy viewer rejected."""
    remaining = list(order)
    out: list[ClipCard] = []
    while remaining:
        pick = 0
        for index, card in enumerate(remaining):
            if index and card.id in avoid:
                continue
            recent = out[-(creator_gap - 1):] if creator_gap > 1 else []
            if any(c.creator_id == card.creator_id for c in recent):
                continue
            page = out[-(window - 1):]
            if any(sum(tag in c.hashtags for c in page) >= hashtag_cap for tag in card.hashtags):
                continue
            pick = index
            break
        out.append(remaining.pop(pick))
    return out
