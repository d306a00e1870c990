"""``clipfeed recs eval``: baselines and our pipeline on one temporal split, in one run.

Protocol (docs/design/recommendations.md, "Offline evaluation"): implicit feedback from
ratings (every rating is an interaction; a rating of 4 or 5 is a positive). Two splits:
``user``, each user's earliest 80 % of events train and the rest test (the usual protocol, but a
user's test period may precede other users' training events), and ``global``, one cut in time for
everyone (leak-free, but only users active on both sides of the cut are scored). The training
part is split the same way again (fit / validation) to tune every baseline on a small grid
(including whether it learns from every rating or the positives only) and to train our ranker,
whose settings and quotas come from the recorded search in ``tuning``. Ranking is over every
item the user has not interacted with in training. Metrics average over test users with at least
one positive; NDCG@10 also gets a 95 % bootstrap interval over those users.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clipfeed.recs.offline import metrics
from clipfeed.recs.offline.baselines import BASELINES, RECORDED, Scorer, grids, recorded
from clipfeed.recs.offline.dataset import Interactions, global_time_split, temporal_split
from clipfeed.recs.offline.pipeline import CandidateSet, build_candidates, labels_for, top_k
from clipfeed.recs.offline.tuning import RANKER_PERIODS, RANKER_SEEDS, Trial, search_ranker, train_ranker, widest_quotas

Progress = Callable[[str], None]
K_MAX = 20
SPLITS = {"user": temporal_split, "global": global_time_split}


@dataclass
class EvalResult:
    split: str = "user"
    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    tuned: dict[str, dict[str, Any]] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # NDCG@10, 95 %
    ratio_interval: tuple[float, float] = (0.0, 0.0)  # ours over the best baseline's, 95 %
    test_users: int = 0
    seconds: float = 0.0

    def best_baseline(self, metric: str = "ndcg@10") -> tuple[str, float]:
        name = max((n for n in self.rows if n != "clipfeed"), key=lambda n: self.rows[n][metric])
        return name, self.rows[name][metric]

    def ratio(self) -> float:
        return self.rows["clipfeed"]["ndcg@10"] / self.best_baseline()[1]

    def table(self) -> str:
        columns = ["recall@10", "ndcg@10", "recall@20", "ndcg@20", "coverage@10", "novelty@10", "diversity@10"]
        lines = ["| model | tuned | " + " | ".join(columns) + " | ndcg@10 95 % |",
                 "|---|---|" + "---:|" * (len(columns) + 1)]
        for name, row in self.rows.items():
            params = ", ".join(f"{k}={v}" for k, v in self.tuned.get(name, {}).items())
            low, high = self.intervals.get(name, (0.0, 0.0))
            lines.append(f"| {name} | {params} | " + " | ".join(f"{row[c]:.4f}" for c in columns)
                         + f" | {low:.4f}–{high:.4f} |")
        return "\n".join(lines)

    def summary(self) -> str:
        name, best = self.best_baseline()
        ours = self.rows["clipfeed"]["ndcg@10"]
        low, high = self.ratio_interval
        return (f"{self.split} split, {self.test_users} test users: NDCG@10 clipfeed {ours:.4f} vs best "
                f"baseline {name} {best:.4f} = {ours / best:.3f}x (95 % {low:.3f}–{high:.3f}; "
                f"goal 1.15x) in {self.seconds:.0f} s")


def _top(scores: np.ndarray, seen: np.ndarray, k: int = K_MAX) -> np.ndarray:
    masked = np.where(seen, -np.inf, scores)
    best = np.argpartition(-masked, k, axis=1)[:, :k]
    order = np.take_along_axis(masked, best, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(best, order, axis=1)


def _recommend(scorer: Scorer, history: Interactions, users: np.ndarray) -> dict[int, np.ndarray]:
    scorer.fit(history)
    seen = history.matrix()[users].toarray() > 0
    tops = _top(scorer.scores(users), seen)
    return {int(user): tops[row] for row, user in enumerate(users)}


def _evaluate(recommended: dict[int, np.ndarray], relevant: dict[int, set[int]],
              history: Interactions) -> dict[str, float]:
    popularity = np.bincount(history.items, minlength=history.n_items).astype(np.float64)
    return metrics.evaluate(recommended, relevant, n_items=history.n_items, popularity=popularity,
                            n_users=history.n_users, genres=history.genres)


def _tune(name: str, fit: Interactions, validation: dict[int, set[int]], progress: Progress) -> Scorer:
    users = np.array(sorted(validation), dtype=np.int64)
    best: tuple[float, Scorer] | None = None
    for scorer in grids()[name]:
        score = _evaluate(_recommend(scorer, fit, users), validation, fit)["ndcg@10"]
        progress(f"tune {name} {scorer.params}: validation ndcg@10 {score:.4f}")
        if best is None or score > best[0]:
            best = (score, scorer)
    assert best is not None
    return best[1]


def run_eval(data: Interactions, *, split: str = "user", tune: bool = True,
             progress: Progress = lambda _: None) -> EvalResult:
    """Every baseline (tuned on validation, or at its recorded winner for ``split`` when ``tune``
    is false)
    and our pipeline on the test period of ``split``."""
    started = time.perf_counter()
    result = EvalResult(split=split)
    train, test = SPLITS[split](data)
    fit, validation = SPLITS[split](train)
    test_relevant, val_relevant = test.positives(), validation.positives()
    test_users = np.array(sorted(test_relevant), dtype=np.int64)
    val_users = np.array(sorted(val_relevant), dtype=np.int64)
    result.test_users = len(test_users)
    progress(f"{split} split: {len(test_users)} test users, {len(val_users)} validation users")

    by_user: dict[str, np.ndarray] = {}
    for name in BASELINES:
        scorer = _tune(name, fit, val_relevant, progress) if tune else recorded(name, split=split)
        result.tuned[name] = scorer.params
        recommended = _recommend(scorer, train, test_users)
        result.rows[name] = _evaluate(recommended, test_relevant, train)
        by_user[name] = metrics.ndcg_by_user(recommended, test_relevant, test_users)
        progress(f"{name}: test ndcg@10 {result.rows[name]['ndcg@10']:.4f}")

    progress("clipfeed: candidates and features on the validation period(s)")
    periods, labels = [], []
    history, relevant = fit, val_relevant
    for period in range(RANKER_PERIODS):
        if period:
            history, earlier = SPLITS[split](history)
            relevant = earlier.positives()
        candidates = build_candidates(history, np.array(sorted(relevant), dtype=np.int64), result.tuned)
        periods.append(candidates)
        labels.append(labels_for(candidates, relevant))
    ranker = train_ranker(CandidateSet.stacked(periods, data.n_users), np.concatenate(labels), progress=progress,
                          seeds=RANKER_SEEDS)
    progress("clipfeed: candidates and features on the test period")
    test_candidates = build_candidates(train, test_users, result.tuned)
    recommended = top_k(test_candidates, ranker.predict(test_candidates), K_MAX)
    result.rows["clipfeed"] = _evaluate(recommended, test_relevant, train)
    by_user["clipfeed"] = metrics.ndcg_by_user(recommended, test_relevant, test_users)
    result.tuned["clipfeed"] = {"trees": ranker.num_trees(), "candidates/user":
                                round(len(test_candidates.items) / max(1, len(test_users)))}

    result.intervals = {name: metrics.bootstrap_interval(values) for name, values in by_user.items()}
    best_name, _ = result.best_baseline()
    result.ratio_interval = metrics.bootstrap_interval(by_user["clipfeed"], baseline=by_user[best_name])
    result.seconds = time.perf_counter() - started
    return result


def run_search(data: Interactions, *, progress: Progress = lambda _: None) -> tuple[dict[str, Any], list[Trial]]:
    """The ranker's recorded search on the per-user split's validation period (never its test
    period), with the generators at the baselines' recorded winners."""
    train, _ = temporal_split(data)
    fit, validation = temporal_split(train)
    relevant = validation.positives()
    users = np.array(sorted(relevant), dtype=np.int64)
    progress("search: candidates and features on the validation period")
    candidates = build_candidates(fit, users, RECORDED["user"], quotas=widest_quotas())
    return search_ranker(candidates, labels_for(candidates, relevant), relevant, progress=progress)
