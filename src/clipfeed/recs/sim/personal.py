"""Personal baselines ranked on the client (see ``baselines``): each keeps per-viewer state
learnt from the viewer's own events and falls back on exposure-normalised popularity."""

from __future__ import annotations

import math
from collections import defaultdict

from clipfeed.recs.sim.baselines import ClientArm
from clipfeed.recs.sim.client import Account, ClipCard

AFFINITY_DECAY = 0.95   # per viewing: recent tastes count more
RECENT_POSITIVES = 10   # the clips a co-watch page is built around


def _reward(outcome: str, liked: bool) -> float:
    return {"complete": 1.0, "progress": 0.0, "skip": -0.5}.get(outcome, 0.0) + liked


class TagAffinity(ClientArm):
    """Clips whose hashtags the viewer engaged with recently (decayed affinities from their own
    completions, likes and skips), popularity breaking ties and filling the rest."""

    name = "tag-affinity"

    def __init__(self) -> None:
        super().__init__()
        self.affinity: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def learn(self, account: Account, card: ClipCard, outcome: str, *, liked: bool, session_id: str) -> None:
        tags = self.affinity[account.user_id]
        for tag in tags:
            tags[tag] *= AFFINITY_DECAY
        for tag in card.hashtags:
            tags[tag] += _reward(outcome, liked)

    def score(self, account: Account, card: ClipCard, session_id: str) -> float:
        tags = self.affinity[account.user_id]
        return max((tags.get(t, 0.0) for t in card.hashtags), default=0.0) + self.popularity(card.id)


class CoWatch(ClientArm):
    """Session item-to-item: clips completed in the same sessions as the viewer's latest
    completions (cosine-normalised co-counts over all viewers' sessions)."""

    name = "co-watch"

    def __init__(self) -> None:
        super().__init__()
        self.session_positives: dict[str, list[int]] = defaultdict(list)
        self.positives: dict[int, int] = defaultdict(int)
        self.pairs: dict[tuple[int, int], int] = defaultdict(int)
        self.recent: dict[int, list[int]] = defaultdict(list)

    def learn(self, account: Account, card: ClipCard, outcome: str, *, liked: bool, session_id: str) -> None:
        if outcome != "complete" and not liked:
            return
        key = f"{account.user_id}:{session_id}"
        for other in self.session_positives[key]:
            self.pairs[(min(other, card.id), max(other, card.id))] += 1
        self.session_positives[key].append(card.id)
        self.positives[card.id] += 1
        self.recent[account.user_id] = (self.recent[account.user_id] + [card.id])[-RECENT_POSITIVES:]

    def score(self, account: Account, card: ClipCard, session_id: str) -> float:
        together = 0.0
        for seed in self.recent[account.user_id]:
            count = self.pairs.get((min(seed, card.id), max(seed, card.id)), 0)
            if count:
                together += count / math.sqrt(self.positives[seed] * self.positives[card.id])
        return together + self.popularity(card.id)


class HashtagBandit(ClientArm):
    """Thompson sampling over hashtags per viewer: a Beta(1 + completions, 1 + other outcomes)
    draw per hashtag for each page; a clip scores its best hashtag's draw."""

    name = "bandit"

    def __init__(self) -> None:
        super().__init__()
        self.wins: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.losses: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.draws: dict[str, float] = {}

    def learn(self, account: Account, card: ClipCard, outcome: str, *, liked: bool, session_id: str) -> None:
        won = outcome == "complete" or liked
        for tag in card.hashtags:
            (self.wins if won else self.losses)[account.user_id][tag] += 1

    def prepare(self, account: Account, session_id: str) -> None:
        tags = {t for c in self.catalogue.values() for t in c.hashtags}
        wins, losses = self.wins[account.user_id], self.losses[account.user_id]
        self.draws = {t: float(self.rng.beta(1 + wins.get(t, 0.0), 1 + losses.get(t, 0.0))) for t in sorted(tags)}

    def score(self, account: Account, card: ClipCard, session_id: str) -> float:
        best = max((self.draws.get(t, 0.5) for t in card.hashtags), default=0.5)
        return best + 0.01 * self.popularity(card.id)
