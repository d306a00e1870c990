"""What the feed reads from other features, through the functions those features publish:
follows and blocks (``clipfeed.social.service``), trending (``clipfeed.stream.trending``),
content embeddings (``clipfeed.media.features``), playback hints (``clipfeed.delivery.playback``).

One object, ``SIGNALS``, so a test can stand in for a feature it does not exercise. A clip the
media pipeline has no embedding for (seeded or imported clips) gets a hashed bag of its words.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa

from clipfeed.core.errors import NotFound
from clipfeed.delivery import playback
from clipfeed.delivery.models import PlaybackInfo
from clipfeed.media import features as media_features
from clipfeed.recs.cards import EMBED_DIM, WORDS_KEPT
from clipfeed.social import service as social
from clipfeed.stream import trending

if TYPE_CHECKING:
    from clipfeed.clips.models import Clip
    from clipfeed.runtime.services import Services
    from clipfeed.social.schemas import Engagement

TREND_BUCKET_S = 3600
TREND_HOURS = 3
FOLLOWING_READ = 500


def trend_key(region: str, bucket: int) -> str:
    return f"recs:trend:{region}:{bucket}"


# Words that say nothing about what a clip shows; left out of the word bag below.
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "i", "in", "is", "it",
    "its", "me", "my", "of", "on", "or", "our", "so", "that", "the", "this", "to", "was", "we", "what", "when",
    "with", "you", "your"})
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def caption_words(caption: str, hashtags: list[str] | tuple[str, ...]) -> list[str]:
    """The distinct content words of a caption and its hashtags, lower-cased: a hashtag counts once
    whether it is in the caption, in the list or both (``#cats`` and ``cats`` are one word), so
    it weighs as much as any caption word rather than twice as much, and stop words, which every
    caption shares, are left out."""
    words = [w.lower() for w in _WORD.findall(caption or "")] + [t.lower().lstrip("#") for t in hashtags]
    return list(dict.fromkeys(w for w in words if w and w not in STOP_WORDS))


def card_words(caption: str, hashtags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The caption words a clip card carries: its content words other than its hashtags."""
    tags = {t.lower().lstrip("#") for t in hashtags}
    return tuple(w for w in caption_words(caption, ()) if w not in tags)[:WORDS_KEPT]


def text_embedding(words: list[str]) -> np.ndarray:
    """A hashed bag-of-words vector, for clips without a content embedding (``caption_words``)."""
    vector = np.zeros(EMBED_DIM, dtype=np.float32)
    for word in words:
        digest = hashlib.blake2b(word.lower().encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % EMBED_DIM
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


class Signals:
    def hidden_from(self, user_id: int | sa.BindParameter[int]) -> sa.CompoundSelect:
        """Users ``user_id`` blocked or was blocked by (neither sees the other's clips), as a
        query, to filter or combine with a read of the main database."""
        return social.hidden_from(user_id)

    def following(self, user_id: int | sa.BindParameter[int]) -> sa.Select[int, int]:
        """Whom ``user_id`` follows (newest first, up to ``FOLLOWING_READ``) as a query of the
        main database: (followee ID, rank)."""
        return social.followees_query(user_id, FOLLOWING_READ)

    async def engagement(self, viewer_id: int | None, clip_ids: list[int], *,
                         services: Services) -> dict[int, Engagement]:
        """Counts and the viewer's own flags of clips the feed already decided they may see."""
        return await social.engagement_for(services=services, viewer_id=viewer_id, clip_ids=clip_ids)

    async def trending_clip_ids(self, region: str, limit: int, *, services: Services) -> list[int]:
        """The stream worker's trending clips (``global``: everywhere); the feed's own hourly
        buckets fill in when the stream has none yet (a new installation)."""
        found = await trending.top_clips(services=services, region=None if region == "global" else region,
                                         limit=limit)
        return [clip_id for clip_id, _ in found] or await own_trending(region, limit, services=services)

    async def embeddings(self, clips: list[Clip], *, services: Services) -> dict[int, np.ndarray]:
        found = dict(await media_features.get_embeddings(db=services.db, clip_ids=[c.id for c in clips]))
        for clip in clips:
            if clip.id not in found or len(found[clip.id]) != EMBED_DIM:
                found[clip.id] = text_embedding(caption_words(clip.caption, clip.hashtags or []))
        return found

    async def playback_info(self, clip: Clip, viewer_id: int | None, region: str, network: str | None,
                            *, services: Services) -> PlaybackInfo | None:
        try:
            return await playback.playback_info(services=services, clip=clip, viewer_id=viewer_id,
                                                region=region, network=network)
        except NotFound:
            return None


async def own_trending(region: str, limit: int, *, services: Services) -> list[int]:
    """Engagement velocity from the feed's own hourly buckets, the latest weighing most."""
    bucket = int(time.time() // TREND_BUCKET_S)
    totals: dict[str, float] = {}
    for age in range(TREND_HOURS):
        for member, score in await services.cache.ztop(trend_key(region, bucket - age), limit * 2):
            totals[member] = totals.get(member, 0.0) + score * 0.6 ** age
    return [int(m) for m, _ in sorted(totals.items(), key=lambda kv: -kv[1])[:limit]]


SIGNALS = Signals()
