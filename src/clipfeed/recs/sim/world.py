"""The hidden truth of a simulated world: topics, clips and viewers, and how a viewer reacts.

Nothing here is visible to a feed: a clip's topic and quality, a viewer's tastes, creator
affinities, patience and fatigue stay in the simulator. Feeds see only what the app would send:
clips (caption, hashtags, creator) and playback events, likes and follows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TOPICS = ["cats", "dogs", "cooking", "skate", "music", "comedy", "travel", "science", "fitness", "art",
          "gaming", "fashion"]
# Caption words per topic: a caption carries the topic even when its hashtag lies.
VOCABULARY = {
    "cats": ["kitten", "purr", "whiskers", "meow"], "dogs": ["puppy", "fetch", "leash", "bark"],
    "cooking": ["pasta", "recipe", "oven", "spice"], "skate": ["kickflip", "ramp", "board", "grind"],
    "music": ["guitar", "chorus", "beat", "vinyl"], "comedy": ["prank", "punchline", "sketch", "joke"],
    "travel": ["beach", "airport", "mountain", "hostel"], "science": ["experiment", "atom", "telescope", "lab"],
    "fitness": ["squat", "cardio", "stretch", "gym"], "art": ["canvas", "sketchbook", "paint", "mural"],
    "gaming": ["speedrun", "controller", "boss", "level"], "fashion": ["outfit", "runway", "denim", "thrift"],
}
DURATION_MS = 15_000


@dataclass(frozen=True)
class WorldConfig:
    viewers: int = 24
    sessions: int = 4
    catalogue: int = 240          # clips before the first session
    arrivals: int = 24            # new clips before each session
    creators: int = 16            # creators at the start; a few more arrive with each round
    new_creators: int = 2         # creators arriving before each session
    tag_noise: float = 0.3        # share of clips whose hashtag names a wrong topic
    shift_share: float = 1 / 3    # share of viewers whose taste changes halfway
    max_clips: int = 40           # clips per session at most (a session's natural end)


@dataclass
class SimClip:
    topic: int
    quality: float
    creator: int                  # index into World.creators
    caption: str
    arrived: int                  # the session before which it was published (-1: catalogue)


@dataclass
class SimViewer:
    number: int
    taste: np.ndarray
    creator_affinity: dict[int, float]
    patience: int                 # consecutive skips before leaving
    fatigue: float                # appeal lost per recent clip of the same topic
    shift_to: int | None = None   # the topic this viewer's taste moves to halfway, if any
    shifted: bool = False
    follows: set[int] = field(default_factory=set)

    @property
    def favourite(self) -> int:
        return int(np.argmax(self.taste))

    def appeal(self, clip: SimClip, same_topic_recently: int) -> float:
        """The chance this viewer watches ``clip`` to the end."""
        score = (3.0 * self.taste[clip.topic] * len(TOPICS) / 4 + 1.6 * (clip.quality - 0.5)
                 + self.creator_affinity.get(clip.creator, 0.0) - self.fatigue * same_topic_recently - 1.8)
        return 1.0 / (1.0 + math.exp(-score))

    def shift(self) -> None:
        if self.shift_to is None:
            return
        taste = np.full(len(TOPICS), 0.02)
        taste[self.shift_to] = 1.0
        self.taste = taste / taste.sum()
        self.shifted = True


def new_viewer(number: int, rng: np.random.Generator, config: WorldConfig, creators: int) -> SimViewer:
    taste = rng.dirichlet(np.full(len(TOPICS), 0.25))
    liked = rng.choice(creators, size=min(3, creators), replace=False)
    affinity = {int(c): float(rng.uniform(0.5, 1.5)) for c in liked}
    shift_to = int(np.argmin(taste)) if rng.random() < config.shift_share else None
    return SimViewer(number, taste, affinity, patience=int(rng.integers(3, 7)),
                     fatigue=float(rng.uniform(0.1, 0.4)), shift_to=shift_to)


def new_clip(rng: np.random.Generator, config: WorldConfig, *, creators: int, arrived: int) -> SimClip:
    topic = int(rng.integers(len(TOPICS)))
    tagged = topic if rng.random() >= config.tag_noise else int(rng.integers(len(TOPICS)))
    words = rng.choice(VOCABULARY[TOPICS[topic]], size=2, replace=False)
    caption = f"{words[0]} and {words[1]} #{TOPICS[tagged]}"
    return SimClip(topic=topic, quality=float(rng.beta(2, 2)), creator=int(rng.integers(creators)),
                   caption=caption, arrived=arrived)
