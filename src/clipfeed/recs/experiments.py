"""A/B testing: deterministic bucketing, experiment configuration, and a readout with
confidence intervals from the impression lake.

Config (``CLIPFEED_FEED_EXPERIMENTS_FILE``, JSON)::

    {"experiments": [{"name": "mmr-0.6", "salt": "2026-11", "traffic": 1.0,
                      "arms": {"control": 0.5, "treatment": 0.5},
                      "settings": {"treatment": {"feed_mmr_lambda": 0.6}}}]}

A viewer's arm is a pure function of (experiment salt, viewer key): SHA-256 → a point in
[0, 1) → the arm whose cumulative share covers it; viewers outside ``traffic`` are in no arm.
Every process computes the same assignment with no shared state, and changing the salt
reshuffles everyone (a fresh experiment).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    from clipfeed.settings import Settings


@dataclass(frozen=True)
class Experiment:
    name: str
    salt: str
    arms: dict[str, float]
    traffic: float = 1.0
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def point(self, viewer: str) -> float:
        digest = hashlib.sha256(f"{self.salt}:{self.name}:{viewer}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def arm(self, viewer: str) -> str | None:
        point = self.point(viewer)
        if point >= self.traffic:
            return None
        scaled, total = point / self.traffic, sum(self.arms.values())
        running = 0.0
        for name, share in self.arms.items():
            running += share / total
            if scaled < running:
                return name
        return list(self.arms)[-1]


@lru_cache(maxsize=4)
def load_experiments(path: Path | None) -> tuple[Experiment, ...]:
    if path is None:
        return ()
    data = orjson.loads(Path(path).read_bytes())
    return tuple(Experiment(e["name"], e.get("salt", ""), dict(e["arms"]), float(e.get("traffic", 1.0)),
                            dict(e.get("settings", {}))) for e in data.get("experiments", []))


def assignments(settings: Settings, viewer: str) -> dict[str, str]:
    out = {}
    for experiment in load_experiments(settings.feed_experiments_file):
        arm = experiment.arm(viewer)
        if arm is not None:
            out[experiment.name] = arm
    return out


def settings_for(settings: Settings, viewer: str) -> Settings:
    """The settings this viewer's arms call for (unchanged when in no arm)."""
    changes: dict[str, Any] = {}
    for experiment in load_experiments(settings.feed_experiments_file):
        arm = experiment.arm(viewer)
        if arm is not None:
            changes.update(experiment.settings.get(arm, {}))
    return settings.model_copy(update=changes) if changes else settings


@dataclass
class ArmReadout:
    arm: str
    viewers: int
    impressions: int
    mean: float
    low: float
    high: float


def readout(viewers: list[str], values: list[float], experiment: Experiment, *, metric: str = "watch_ms",
            seed: int = 7, resamples: int = 1000) -> list[ArmReadout]:
    """Per arm, the mean of ``metric`` per impression with a 95 % confidence interval by a
    bootstrap over viewers (impressions of one viewer are correlated; viewers are the unit
    of randomisation, so they are what is resampled)."""
    per_viewer: dict[str, list[float]] = {}
    for viewer, value in zip(viewers, values, strict=True):
        per_viewer.setdefault(viewer, []).append(value)
    rng = np.random.default_rng(seed)
    out = []
    for arm in experiment.arms:
        members = [v for v in per_viewer if experiment.arm(v) == arm]
        if not members:
            out.append(ArmReadout(arm, 0, 0, math.nan, math.nan, math.nan))
            continue
        sums = np.array([sum(per_viewer[v]) for v in members])
        counts = np.array([len(per_viewer[v]) for v in members])
        picks = rng.integers(0, len(members), size=(resamples, len(members)))
        means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
        out.append(ArmReadout(arm, len(members), int(counts.sum()), float(sums.sum() / counts.sum()),
                              float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))))
    return out


async def impression_metric(*, services: Any, metric: str, days: int,
                            source: str = "lake") -> tuple[list[str], list[float]]:
    """``(viewer key, value)`` per impression over the last ``days`` days: from the analytics
    lake's training rows (client impressions with labels; ``clipfeed lake``), or from the feed's
    own impression log."""
    from datetime import UTC, datetime, timedelta

    from clipfeed.core.viewers import ViewerId
    from clipfeed.infra.blobs import BlobNotFound
    from clipfeed.recs import training

    if source == "impressions":
        table = await training.read_impressions(days=days, services=services)
        if table is None:
            return [], []
        data = table.to_pydict()
        return list(data["viewer"]), [float(v) for v in data[metric]]
    from clipfeed.lake.service import read_training

    viewers: list[str] = []
    values: list[float] = []
    today = datetime.now(UTC).date()
    for back in range(days):
        try:
            data = (await read_training(services=services, day=today - timedelta(days=back))).to_pydict()
        except BlobNotFound:
            continue
        for viewer, value in zip(data["viewer"], data[f"label_{metric}"], strict=True):
            # Parts written before one viewer form existed say "<user id>" or "anon:<device>".
            viewers.append(ViewerId.parse(str(viewer)).key)
            values.append(float(value or 0.0))
    return viewers, values
