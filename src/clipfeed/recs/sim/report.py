"""What the simulator measures per arm, and its summary over seeds (mean and 95 % interval)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from clipfeed.recs.sim.world import TOPICS

# Student's t at 97.5 % for 1..10 degrees of freedom (few seeds per run); 1.96 beyond.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]
METRICS = ("watch s/session", "favourite share / chance", "shifted topic share / chance",
           "shifted share, 2nd session / chance", "new clips' share", "repeats", "refused requests")


@dataclass
class Tally:
    """One arm, one seed."""

    session_watch_s: list[float] = field(default_factory=list)
    impressions: int = 0
    favourite_hits: int = 0
    shifted_shown: int = 0        # impressions of shifted viewers after their shift
    shifted_hits: int = 0         # of those, clips of the new topic
    second_shown: int = 0         # the same, in the second session after the shift only
    second_hits: int = 0
    new_impressions: int = 0      # clips published during the run
    repeats: int = 0              # a clip shown twice to one viewer
    refused: int = 0
    pages: int = 0
    served_by: dict[str, int] = field(default_factory=dict)

    def row(self) -> dict[str, float]:
        chance = 1 / len(TOPICS)
        return {
            "watch s/session": sum(self.session_watch_s) / max(1, len(self.session_watch_s)),
            "favourite share / chance": self.favourite_hits / max(1, self.impressions) / chance,
            "shifted topic share / chance": self.shifted_hits / max(1, self.shifted_shown) / chance,
            "shifted share, 2nd session / chance": self.second_hits / max(1, self.second_shown) / chance,
            "new clips' share": self.new_impressions / max(1, self.impressions),
            "repeats": float(self.repeats),
            "refused requests": float(self.refused),
        }


def interval(values: list[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95 % interval (0 for one seed)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    t = T975[len(values) - 2] if len(values) - 1 <= len(T975) else 1.96
    return mean, t * sd / math.sqrt(len(values))


@dataclass
class Report:
    """Per arm, one tally per seed."""

    tallies: dict[str, list[Tally]]
    reference: str = "foryou"

    def summary(self) -> dict[str, dict[str, tuple[float, float]]]:
        return {arm: {m: interval([t.row()[m] for t in runs]) for m in METRICS} for arm, runs in self.tallies.items()}

    def ratios(self) -> dict[str, float]:
        """For You over the best baseline arm, per metric where larger is better."""
        summary = self.summary()
        baselines = [arm for arm in summary if arm != self.reference]
        if self.reference not in summary or not baselines:
            return {}
        out = {}
        for metric in (*METRICS[:4], "new clips' share"):
            best = max(summary[arm][metric][0] for arm in baselines)
            out[metric] = summary[self.reference][metric][0] / best if best else math.inf
        return out

    def table(self) -> str:
        summary = self.summary()
        lines = ["| arm | " + " | ".join(METRICS) + " |", "|---|" + "---:|" * len(METRICS)]
        for arm, row in summary.items():
            lines.append(f"| {arm} | " + " | ".join(f"{m:.3g} ± {h:.2g}" for m, h in row.values()) + " |")
        ratios = self.ratios()
        if ratios:
            lines.append("")
            lines.append("For You / best baseline: " + ", ".join(f"{m} {r:.2f}x" for m, r in ratios.items()))
        served: dict[str, int] = {}
        for tally in self.tallies.get(self.reference, []):
            for path, count in tally.served_by.items():
                served[path] = served.get(path, 0) + count
        if served:
            total = sum(served.values())
            lines.append(f"{self.reference} pages served by: " + ", ".join(
                f"{path} {count / total:.0%}" for path, count in sorted(served.items())))
        return "\n".join(lines)
