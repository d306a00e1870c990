"""What other features use from the social feature (``from clipfeed.social import service``).

* ``blocked_user_ids(*, db, user_id) -> set[int]``: users hidden from ``user_id`` either way
  (feeds, recommendations and search filter their content out); ``hidden_from(user_id)`` is the
  same as a query, for a filter on the main database (``column.not_in(hidden_from(...))``).
* ``followee_ids(*, db, user_id, limit=None) -> list[int]``: whom the user follows, newest
  first (the "following" feed); ``followees_query`` is the list as a query.
* ``follow_counts(*, db, user_ids) -> dict[int, tuple[int, int]]``: exact (followers, following).
* ``engagement_for(*, services, viewer_id, clip_ids) -> dict[int, Engagement]``: eventual
  counts plus the viewer's strongly consistent ``liked_by_me``/``bookmarked_by_me``.
* ``iter_follower_ids(*, db, user_id, batch=1000)``: every follower, in batches.
* ``is_blocked(*, db, a, b) -> bool``, ``blocked_pairs(*, db, pairs)``.
* ``visible_clip(*, db, clip_id, viewer_id)`` (404 otherwise) and ``visible_clips(*, db, clip_ids,
  viewer_id)``: the one visibility rule (``can_see``) that every read of a clip applies.
* ``visible_bodies(*, db, refs) -> dict[int, str]``: texts of still-visible comments.
* ``followees_above(*, db, user_id, min_followers) -> dict[int, datetime]``: followed accounts
  with more than ``min_followers`` followers, and since when (on-read notification fan-out).
"""

from __future__ import annotations

from clipfeed.social.access import (
    blocked_pairs,
    blocked_user_ids,
    can_see,
    hidden_from,
    is_blocked,
    resolve_user,
    visible_clip,
    visible_clips,
)
from clipfeed.social.comment_reads import visible_bodies
from clipfeed.social.engagement import engagement_for
from clipfeed.social.follows import (
    follow_counts,
    followee_ids,
    followees_above,
    followees_query,
    iter_follower_ids,
)

__all__ = ["blocked_pairs", "blocked_user_ids", "can_see", "engagement_for", "follow_counts", "followee_ids",
           "followees_above", "followees_query", "hidden_from",
           "is_blocked", "iter_follower_ids", "resolve_user", "visible_bodies", "visible_clip",
           "visible_clips"]
