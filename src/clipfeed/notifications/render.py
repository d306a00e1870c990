"""Notification rows as people read them: actors resolved at read time (current handles;
deleted, suspended or blocked actors drop out), comment excerpts from comments still visible,
and one sentence per row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips
from clipfeed.notifications.models import Actor, Notification, NotificationKind, NotificationPublic
from clipfeed.social import service as social

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

EXCERPT = 100
COMMENT_KINDS = {NotificationKind.comment.value, NotificationKind.reply.value, NotificationKind.mention.value}
_VERBS = {
    NotificationKind.follow: "started following you",
    NotificationKind.like: "liked your clip",
    NotificationKind.comment: "commented on your clip",
    NotificationKind.reply: "replied to your comment",
    NotificationKind.mention: "mentioned you in a comment",
    NotificationKind.share: "sent you a clip",
    NotificationKind.new_clip: "posted a new clip",
}


def sentence(kind: NotificationKind, handles: list[str], count: int, data: dict[str, object]) -> str:
    if kind == NotificationKind.clip_ready:
        return "Your clip is ready and published"
    if kind == NotificationKind.clip_rejected:
        reason = str(data.get("reason") or "").strip()
        return f"Your clip was not published: {reason}" if reason else "Your clip was not published"
    if kind == NotificationKind.clip_failed:
        return "Your clip could not be processed; try uploading it again"
    names = [f"@{h}" for h in handles]
    if not names:
        who = "Someone"
    elif count <= 1:
        who = names[0]
    elif count == 2 and len(names) >= 2:
        who = f"{names[0]} and {names[1]}"
    else:
        others = count - 1
        who = f"{names[0]} and {others} other{'s' if others != 1 else ''}"
    return f"{who} {_VERBS[kind]}"


async def views(*, services: Services, rows: list[Notification], hidden: set[int] | None = None,
                ) -> list[NotificationPublic]:
    """Views in the order of ``rows``; rows whose clip the recipient can no longer see, whose
    comment is gone, or whose every actor is hidden are left out."""
    hidden = hidden or set()
    actor_ids = {int(a) for r in rows for a in r.actor_ids}
    people = await accounts.get_many(db=services.db, user_ids=list(actor_ids))
    excerpts = await social.visible_bodies(db=services.db, refs=[
        (r.clip_id, r.comment_id) for r in rows
        if r.kind in COMMENT_KINDS and r.clip_id is not None and r.comment_id is not None])
    found = await clips.get_many(db=services.db, clip_ids=[r.clip_id for r in rows if r.clip_id is not None])
    out = []
    for row in rows:
        kind = NotificationKind(row.kind)
        if row.clip_id is not None and (row.clip_id not in found
                                        or not clips.can_view(found[row.clip_id], row.recipient_id)):
            continue
        actors = [people[int(a)] for a in row.actor_ids if int(a) in people]
        actors = [u for u in actors if u.deleted_at is None and u.suspended_at is None and u.id not in hidden]
        if row.actor_ids and not actors:
            continue
        excerpt = None
        if row.kind in COMMENT_KINDS:
            if row.comment_id not in excerpts:
                continue
            text = excerpts[row.comment_id or 0]
            excerpt = text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…"
        count = max(row.actor_count - (len(row.actor_ids) - len(actors)), len(actors))
        out.append(NotificationPublic(
            id=str(row.id), kind=kind, text=sentence(kind, [u.handle for u in actors], count, row.data or {}),
            read=row.read_at is not None, actor_count=count,
            actors=[Actor(id=str(u.id), handle=u.handle, display_name=u.display_name,
                          avatar_url=accounts.avatar_url(u, settings=services.settings)) for u in actors],
            clip_id=None if row.clip_id is None else str(row.clip_id),
            comment_id=None if row.comment_id is None else str(row.comment_id), excerpt=excerpt,
            data=dict(row.data or {}), created_at=row.created_at, updated_at=row.updated_at))
    return out
