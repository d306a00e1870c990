"""The screening policy table: the shipped defaults with overrides on top."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# check -> (hold at, reject at). Scores are 0..1; 2.0 means "never".
DEFAULT_POLICY: dict[str, tuple[float, float]] = {
    "nsfw": (0.45, 0.85), "blocklist": (0.2, 0.5), "text": (0.5, 1.0), "duplicate": (0.8, 2.0)}


def full_policy(overrides: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    return {**DEFAULT_POLICY, **{k: (float(v[0]), float(v[1])) for k, v in overrides.items()}}
