"""The arms a simulated run compares, by name: For You first, the arm to beat."""

from __future__ import annotations

from clipfeed.recs.sim.arms import Arm, ForYou
from clipfeed.recs.sim.baselines import Popularity, Trending
from clipfeed.recs.sim.personal import CoWatch, HashtagBandit, TagAffinity

ARMS: dict[str, type[Arm]] = {arm.name: arm for arm in (ForYou, Popularity, Trending, TagAffinity, CoWatch,
                                                        HashtagBandit)}
