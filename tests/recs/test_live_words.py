"""Live caption-word affinity: the words of the clips a viewer just finished or left move the
live topic feature (``tag_live``) of clips sharing them, whatever their hashtags say, and a word
every candidate carries moves nothing."""

from __future__ import annotations

import time

import numpy as np

from clipfeed.infra.cache import open_cache
from clipfeed.recs.cards import ClipCard, put_cards
from clipfeed.recs.features import Context, column, feature_matrix
from clipfeed.recs.profile import load_viewer, ukey

VIEWER = "u:1"


def _card(clip_id: int, tag: str, *words: str) -> ClipCard:
    return ClipCard(clip_id, 100 + clip_id, (tag,), 15_000, 1.0e9, words=words)


async def _tag_live(recent: list[ClipCard], negative: list[ClipCard], candidates: list[ClipCard]) -> list[float]:
    cache = open_cache("memory://")
    try:
        await put_cards(cache, recent + negative + candidates)
        now = time.time()
        for part, cards in (("recent", recent), ("negative", negative)):
            if cards:
                await cache.zadd(ukey(VIEWER, part), {str(c.id): now - i for i, c in enumerate(cards)})
        state = await load_viewer(cache, VIEWER)
        rows = feature_matrix(state, candidates, {}, Context(at=now), ["recent"] * len(candidates),
                              [0.0] * len(candidates))
        return [float(v) for v in rows[:, column("tag_live")]]
    finally:
        await cache.close()


async def test_a_finished_clips_caption_words_raise_clips_that_share_them_whatever_their_hashtag() -> None:
    finished = _card(1, "dogs", "kitten", "purr")  # a wrong hashtag, a right caption
    same_topic, other_topic = _card(2, "art", "kitten", "meow"), _card(3, "art", "pasta", "oven")
    near, far = await _tag_live([finished], [], [same_topic, other_topic])
    assert near > far


async def test_a_left_clips_caption_words_lower_clips_that_share_them() -> None:
    left = _card(1, "dogs", "kitten", "purr")
    same_topic, other_topic = _card(2, "art", "kitten", "meow"), _card(3, "art", "pasta", "oven")
    near, far = await _tag_live([], [left], [same_topic, other_topic])
    assert near < far


async def test_a_word_every_candidate_shares_moves_no_clip() -> None:
    # Three left clips whose captions all say "video": without it, every candidate would look
    # like what the viewer turned down, and a re-rank would drop them all.
    left = [_card(i, f"t{i}", "video", f"w{i}") for i in (1, 2, 3)]
    candidates = [_card(10 + i, "art", "video", f"other{i}") for i in range(4)]
    values = await _tag_live([], left, candidates)
    assert np.allclose(values, 0.0)
