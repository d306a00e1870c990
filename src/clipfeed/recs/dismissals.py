"""Explicit negative feedback: "not interested" in a clip and "hide this creator", honoured by
For You for ``DISMISS_DAYS`` days (signed-in viewers only: it is kept with the account).

A dismissal is a row on the viewer's shard (``recs_dismissals``, upserted: dismissing again
restarts the 30 days). The feed reads the live ones with the viewer's links (follows, blocks),
so every page, buffered and re-ranked ones too, leaves the clip and the creator's clips out;
the cached links are dropped on each change, so the next page already honours it.

"Not interested" is also a playback event (``not_interested``, appended through the events
ingestion like the app's own), so the viewer's session profile turns against the clip's
hashtags and creator at once (``clipfeed.recs.session``) and the stream worker lowers the
long-term affinities and labels the impression.

Killed half-way: the row is committed first. Dying after the commit and before the links are
dropped, the dismissal takes effect when they expire (``LINKS_TTL_S``, 5 minutes); dying before
the event is appended, the clip and creator are still filtered but the profile is not turned
against them. A client that got no answer repeats the request, which is idempotent and does the
rest; the event's ID is fixed per clip and day, so a repeat is not counted twice.

Taking "not interested" back (the app's Undo) deletes the row and undoes what the event did to
the live profile: the clip leaves the negative list, the session's hidden set is dropped (the
other clips in it keep their own rows, so they stay out), and the event's ID is claimed for the
stream worker's fold (``clipfeed.recs.feedback``), so a fold still to come skips it instead of
writing it back and lowering the long-term affinities. An event the worker already folded keeps
its small effect on those affinities (they are counts, not a list to take one out of). Killed
half-way, the row is gone first; the client's repeat (idempotent) clears the live profile and
rebuilds the buffer again, but cannot claim the event any more (the row held its day): a fold
still to come then writes the clip back into the live profile (out of For You while that lasts)
and lowers the affinities after all. Marking it again and undoing at once puts that right.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.core.errors import BadRequest
from clipfeed.core.viewers import ViewerId
from clipfeed.events import service as events_service
from clipfeed.infra.db import insert_for
from clipfeed.recs import feed
from clipfeed.recs.feedback import DEDUPE_TTL_S, event_key
from clipfeed.recs.models import Dismissal, HiddenCreatorState, NotInterestedState
from clipfeed.recs.profile import ukey
from clipfeed.recs.viewers import DISMISS_DAYS, FeedViewer, forget_links
from clipfeed.social import access

if TYPE_CHECKING:
    from clipfeed.accounts.models import User
    from clipfeed.runtime.services import Services



async def not_interested(*, services: Services, user: User, clip_id: int) -> NotInterestedState:
    """For You leaves this clip out for ``DISMISS_DAYS`` days and moves away from its hashtags
    and creator. 404 for a clip the viewer may not see (private, blocked either way)."""
    clip = await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=user.id)
    if clip.owner_id == user.id:
        raise BadRequest("this is your own clip: your feed never shows it")
    until = await _dismiss(user.id, "clip", clip.id, services=services)
    await forget_links(user.id, services=services)
    now = time.time()
    await events_service.ingest(services=services, viewer=ViewerId.signed_in(user.id),
                                region=user.region or services.settings.region, raw_events=[{
                                    "event_id": _event_id(clip.id, now),
                                    "type": "not_interested", "clip_id": str(clip.id), "ts": int(now * 1000),
                                    "session_id": "api"}])
    return NotInterestedState(clip_id=str(clip.id), not_interested=True, until=until)


async def take_back_not_interested(*, services: Services, user: User, clip_id: int) -> NotInterestedState:
    """Undo "not interested" (idempotent): the clip may come back from the next page on. The
    same checks as marking it (404 for a clip the viewer may not see, 400 for their own)."""
    clip = await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=user.id)
    if clip.owner_id == user.id:
        raise BadRequest("this is your own clip: your feed never shows it")
    async with services.db.shard_session(user.id) as session:
        marked = await session.scalar(sa.delete(Dismissal).where(
            Dismissal.user_id == user.id, Dismissal.kind == "clip", Dismissal.subject_id == clip.id)
            .returning(Dismissal.created_at))
    viewer = ViewerId.signed_in(user.id).key
    if marked is not None:
        event = events_service.envelope_id(viewer, _event_id(clip.id, marked.timestamp()))
        await services.cache.add(event_key(event), b"1", ttl=DEDUPE_TTL_S)
    # Whether or not a row was there: a repeat after a crash past the delete still gets here.
    await services.cache.zrem(ukey(viewer, "negative"), str(clip.id))
    await services.cache.delete(ukey(viewer, "hidden"))
    await _reread(user, reason="undo", services=services)
    return NotInterestedState(clip_id=str(clip.id), not_interested=False, until=None)


async def hide_creator(*, services: Services, user: User, creator: User) -> HiddenCreatorState:
    """For You leaves every clip of ``creator`` out for ``DISMISS_DAYS`` days."""
    if creator.id == user.id:
        raise BadRequest("you cannot hide yourself: your feed never shows your own clips")
    until = await _dismiss(user.id, "creator", creator.id, services=services)
    await forget_links(user.id, services=services)
    return HiddenCreatorState(user_id=str(creator.id), hidden=True, until=until)


async def unhide_creator(*, services: Services, user: User, creator: User) -> HiddenCreatorState:
    """Their clips may come back from the next page on (idempotent)."""
    async with services.db.shard_session(user.id) as session:
        await session.execute(sa.delete(Dismissal).where(
            Dismissal.user_id == user.id, Dismissal.kind == "creator", Dismissal.subject_id == creator.id))
    await _reread(user, reason="unhide", services=services)
    return HiddenCreatorState(user_id=str(creator.id), hidden=False, until=None)


async def _reread(user: User, *, reason: str, services: Services) -> None:
    """After a dismissal is taken back: the links are read again and the viewer's buffer, built
    without the subject, is rebuilt now, as after a change of interests."""
    await forget_links(user.id, services=services)
    await feed.refill(FeedViewer.signed_in(user.id, region=user.region or services.settings.region,
                                           language=user.language), reason=reason, replace=True, services=services)


def _event_id(clip_id: int, at: float) -> str:
    """The client ID of the "not interested" event: one per clip and day."""
    return f"not-interested-{clip_id}-{int(at // 86400)}"


async def _dismiss(user_id: int, kind: str, subject_id: int, *, services: Services) -> datetime:
    """Insert or renew the row (one statement: two concurrent requests make one row)."""
    now = datetime.now(UTC)
    until = now + timedelta(days=DISMISS_DAYS)
    async with services.db.shard_session(user_id) as session:
        stmt = insert_for(session, Dismissal).values(user_id=user_id, kind=kind, subject_id=subject_id,
                                                     created_at=now, expires_at=until)
        await session.execute(stmt.on_conflict_do_update(index_elements=["user_id", "kind", "subject_id"],
                                                         set_={"created_at": now, "expires_at": until}))
    return until
