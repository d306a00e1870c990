"""Which found clips a viewer may see: the one place search asks it, so the shared visibility
rule (``social.can_see``) replaces this body alone when it lands.

The index holds listed clips only, but it trails the state of record by the indexer's lag, so
every result is checked against the clip row here: ready and public (not private, unlisted,
held for review, rejected or deleted), creator active, and no block either way."""

from __future__ import annotations

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipStatus, Visibility
from clipfeed.infra.db import Database
from clipfeed.social import access


async def visible_clips(*, db: Database, viewer_id: int | None, clip_ids: list[int]) -> dict[int, Clip]:
    found = await clips_service.get_many(db=db, clip_ids=clip_ids)
    listed = {i: c for i, c in found.items()
              if c.status == ClipStatus.ready.value and c.visibility == Visibility.public.value}
    owners = await access.active_users(db=db, user_ids=list({c.owner_id for c in listed.values()}))
    hidden = await access.blocked_user_ids(db=db, user_id=viewer_id) if viewer_id is not None else set()
    return {i: c for i, c in listed.items() if c.owner_id in owners and c.owner_id not in hidden}


async def visible_creators(*, db: Database, viewer_id: int | None, user_ids: list[int]) -> set[int]:
    """Creators that exist, are not suspended and are not blocked either way with the viewer."""
    active = await access.active_users(db=db, user_ids=user_ids)
    hidden = await access.blocked_user_ids(db=db, user_id=viewer_id) if viewer_id is not None else set()
    return {u for u in active if u not in hidden}
