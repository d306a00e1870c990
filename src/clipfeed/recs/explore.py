"""Exploration vs exploitation.

Which clips fill discovery slots: Thompson sampling over each candidate's engagement,
θ ~ Beta(1 + engaged, 1 + impressions − engaged), with θ's odds raised by the viewer's fit with
the clip where it is positive; the highest draws win, so a clip with few impressions gets a
wide draw and a fair chance, first with the viewers it suits, and a clip that keeps failing
drops out. A poor fit does not lower a draw: exploring is also how a topic the viewer turned
away from gets another chance when their taste moves.

How many slots: a per-viewer exploration rate starting at ``feed_explore_rate``; it grows
when the viewer engages with discovery clips at least as often as with the rest and shrinks
when they skip them, within [rate/4, 2·rate]. New viewers (few impressions) explore more.
"""

from __future__ import annotations

import numpy as np

from clipfeed.recs.profile import ViewerState
from clipfeed.recs.ranker import shift_odds


def thompson_order(engaged: np.ndarray, shown: np.ndarray, rng: np.random.Generator,
                   fit: np.ndarray | None = None) -> np.ndarray:
    """Candidates in order of their draws. ``fit``: how much each draw's log-odds go up for
    this viewer (``clipfeed.recs.ranker.viewer_fit``, its positive part), so an untried clip is
    tried first on the viewers its content and hashtags suit, while the draw's width still
    gives every clip its chance."""
    draws = rng.beta(1.0 + engaged, 1.0 + np.maximum(shown - engaged, 0.0))
    if fit is not None:
        draws = shift_odds(draws, fit)
    return np.argsort(-draws)


def exploration_rate(state: ViewerState, base: float) -> float:
    explore_shown = state.stats.get("explore_imp", 0.0)
    explore_hit = state.stats.get("explore_hit", 0.0)
    shown = state.impressions
    if shown < 20:
        return min(0.5, base * 1.5)
    explore_rate = (explore_hit + 1.0) / (explore_shown + 4.0)
    overall = (state.stats.get("pos", 0.0) + 1.0) / (shown + 4.0)
    return float(np.clip(base * explore_rate / overall, base / 4, base * 2))
