"""Content as a retrieval and ranking signal between retrains: a clip published after the last
retrain reaches the viewers its caption suits even when its hashtag says otherwise."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np

from clipfeed.accounts.models import User
from clipfeed.clips.models import Clip
from clipfeed.recs import recent_content as recent_content_module
from clipfeed.recs.cards import get_cards
from clipfeed.recs.compose import build
from clipfeed.recs.features import FEATURE_NAMES, Context, column, feature_matrix
from clipfeed.recs.feedback import Feedback, fold
from clipfeed.recs.indexing import index_clips
from clipfeed.recs.profile import load_viewer
from clipfeed.recs.ranker import HeuristicRanker
from clipfeed.recs.recent_content import recent_content
from clipfeed.recs.signals import caption_words
from clipfeed.recs.sources import SOURCES, SourceRequest
from clipfeed.recs.viewers import FeedViewer
from tests.recs.conftest import seed_catalogue

EVENT_IDS = itertools.count(1)


def test_a_hashtag_counts_once_and_stop_words_not_at_all() -> None:
    assert caption_words("Kitten and the purr #Cats", ["cats"]) == ["kitten", "purr", "cats"]
    assert caption_words("", ["#dogs", "dogs"]) == ["dogs"]


def test_the_heuristic_ranker_lets_fit_outweigh_popularity() -> None:
    rows = np.zeros((2, len(FEATURE_NAMES)), np.float32)
    rows[:, column("clip_duration_s")] = 15
    rows[:, column("clip_watch_fraction")] = 0.5
    rows[0, column("clip_complete_rate")] = 0.25  # fits the viewer
    rows[0, column("taste_dot")] = 0.7
    rows[0, column("tag_live")] = 0.8
    rows[1, column("clip_complete_rate")] = 0.6   # twice as popular, a topic they skip
    rows[1, column("dislike_dot")] = 0.6
    scores = HeuristicRanker().score(rows, {"completion": 1, "like": 2, "share": 3, "watch": 1})
    assert scores[0] > scores[1]


async def _publish(services, owner: User, captions: list[str], tags: list[str], *, fresh: bool) -> list[Clip]:
    now = datetime.now(UTC)
    clips = [Clip(id=services.ids.next_id(), owner_id=owner.id, caption=caption, hashtags=[tag], visibility="public",
                  status="ready", media={}, duration_ms=15_000, published_at=now - timedelta(seconds=len(captions) - i),
                  created_at=now)
             for i, (caption, tag) in enumerate(zip(captions, tags, strict=True))]
    async with services.db.session() as session:
        session.add_all(clips)
    await index_clips(clips, fresh=fresh, services=services)
    return clips


async def test_a_new_clip_with_a_wrong_hashtag_reaches_the_viewer_its_caption_suits(services, monkeypatch) -> None:
    # Every search refreshes the index (at most every two seconds otherwise): the refresh after
    # a clip arrives is what this test is about.
    monkeypatch.setattr(recent_content_module, "REFRESH_S", 0.0)
    catalogue = await seed_catalogue(creators=6, clips_per_creator=20, tags=["cooking", "skate", "music", "travel"],
                                     services=services)
    owner = User(id=services.ids.next_id(), handle=f"catmaker{services.ids.next_id() % 10**6}", email=None,
                 display_name="", role="user")
    async with services.db.session() as session:
        session.add(owner)
    watched = await _publish(services, owner, ["kitten purr whiskers #cats", "purr meow kitten #cats",
                                               "whiskers meow #cats"], ["cats"] * 3, fresh=False)
    viewer = FeedViewer.signed_in(services.ids.next_id())
    await fold(services.cache, [Feedback(next(EVENT_IDS), viewer, clip.id, "complete", 15_000.0)
                                for clip in watched])
    await recent_content(services.cache)  # the index as it stood before the new clip
    (new,) = await _publish(services, owner, ["kitten whiskers on a sofa #cooking"], ["cooking"], fresh=True)
    assert (await get_cards(services.cache, [new.id]))[new.id].hashtags == ("cooking",)

    built = await build(viewer, services=services, from_top=True)

    # It outranks every clip of the hashtag it carries: the ranker's score follows the caption.
    scores = {r.clip_id: r.score for r in built.items}
    assert new.id in scores, "the new clip never became a candidate"
    cooking = [c.id for c in catalogue.values() if c.hashtags == ["cooking"] and c.id in scores]
    assert cooking and all(scores[new.id] > scores[c] for c in cooking)
    # The content source found it (the fresh pool draws at random): its caption, not its
    # hashtag, is what the viewer watched; the same hashtag's older clips are not close.
    state = await load_viewer(services.cache, viewer.key)
    request = SourceRequest(services, viewer.key, None, state, Context.now())
    by_content = [clip_id for clip_id, _ in await SOURCES["content"](request, 5)]
    assert new.id in by_content[:4] and set(by_content[:4]) == {new.id, *(c.id for c in watched)}


async def test_caption_words_carry_the_viewers_affinity_past_a_misleading_hashtag(services) -> None:
    owner = User(id=services.ids.next_id(), handle=f"wordsmith{services.ids.next_id() % 10**6}", email=None,
                 display_name="", role="user")
    async with services.db.session() as session:
        session.add(owner)
    liked = await _publish(services, owner, ["kitten purr #cats", "purr kitten nap #cats"], ["cats"] * 2, fresh=False)
    skipped = await _publish(services, owner, ["pasta oven #cooking"], ["cooking"], fresh=False)
    viewer = FeedViewer.signed_in(services.ids.next_id())
    await fold(services.cache, [*(Feedback(next(EVENT_IDS), viewer, c.id, "complete", 15_000.0) for c in liked),
                                Feedback(next(EVENT_IDS), viewer, skipped[0].id, "skip", 900.0)])
    # Two new clips tagged #cooking: one about a kitten, one about pasta.
    kitten, pasta = await _publish(services, owner, ["kitten purr #cooking", "pasta spice #cooking"],
                                   ["cooking"] * 2, fresh=True)
    cards = await get_cards(services.cache, [kitten.id, pasta.id])
    assert cards[kitten.id].words == ("kitten", "purr")
    state = await load_viewer(services.cache, viewer.key)
    rows = feature_matrix(state, [cards[kitten.id], cards[pasta.id]], {}, Context.now(), ["fresh"] * 2, [0.0] * 2)
    assert rows[0, column("tag_affinity")] > 0 > rows[1, column("tag_affinity")]
