"""Shares: recorded from the app (a link copied, an app chosen, or in-app to another user).

One transaction on the sharer's shard holds the share row and its ``share.created`` event
(counted by the stream; an in-app share also notifies the recipient through it). Killed
half-way, neither exists and the client repeats (with an ``Idempotency-Key`` to be safe).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clipfeed.accounts.models import User
from clipfeed.clips import service as clips
from clipfeed.core import contract
from clipfeed.core.errors import BadRequest, Forbidden, Invalid
from clipfeed.infra.db import utcnow
from clipfeed.social import access, events
from clipfeed.social.engagement import clip_counts
from clipfeed.social.models import Share
from clipfeed.social.schemas import ShareChannel, ShareCreate, SharePublic

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


def share_url(clip_id: int, *, services: Services) -> str:
    """The human-facing page whose Open Graph tags make link previews show the poster."""
    return f"{services.settings.base_url}/share/c/{clip_id}"


async def share(*, services: Services, user: User, clip_id: int, request: ShareCreate) -> SharePublic:
    clip = await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=user.id)
    recipient = None
    if request.channel == ShareChannel.user:
        if not request.to_user:
            raise Invalid("to_user is required to share with a user")
        recipient = await access.resolve_user(db=services.db, ref=request.to_user)
        if recipient.id == user.id:
            raise BadRequest("you cannot share a clip with yourself")
        if await access.is_blocked(db=services.db, a=user.id, b=recipient.id):
            raise Forbidden("you cannot share with this account")
        if not clips.can_view(clip, recipient.id) or await access.is_blocked(
                db=services.db, a=recipient.id, b=clip.owner_id):
            raise Invalid(f"this clip cannot be shared with @{recipient.handle}")
    elif request.to_user:
        raise Invalid("to_user goes with channel=user only")
    row = Share(id=services.ids.next_id(), user_id=user.id, clip_id=clip.id, channel=request.channel.value,
                to_user_id=recipient.id if recipient else None, created_at=utcnow())
    async with services.db.shard_session(user.id) as session:
        session.add(row)
        events.record(session, contract.SHARE_CREATED, key=clip.id, actor_id=user.id, shard_key=user.id,
                      payload=contract.ShareCreated(user_id=user.id, clip_id=clip.id, creator_id=clip.owner_id,
                                                    share_id=row.id, channel=row.channel,
                                                    to_user_id=recipient.id if recipient else None),
                      services=services)
    counted = (await clip_counts(services=services, clip_ids=[clip.id]))[clip.id]
    return SharePublic(id=str(row.id), clip_id=str(clip.id), channel=request.channel,
                       to_user_id=str(recipient.id) if recipient else None, share_url=share_url(clip.id,
                                                                                                services=services),
                       share_count_estimate=counted.shares + 1)
