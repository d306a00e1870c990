"""Reports across servers (``Flag``), as Mastodon exchanges them: a report here of another
server's clip, comment or account goes to that server's moderators, from our server actor (the
reporter stays anonymous); a ``Flag`` from another server about our content opens a case in our
moderation queue, reported by that server's actor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clipfeed.accounts.models import User
from clipfeed.core import contract
from clipfeed.core.errors import ClipfeedError
from clipfeed.core.text import scrub
from clipfeed.federation import deliveries, documents, objects, publish, remote
from clipfeed.federation.models import INSTANCE_ACTOR
from clipfeed.moderation import service as moderation
from clipfeed.moderation.models import ReportCategory, ReportRequest, SubjectKind

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

MAX_NOTE = 1000
_KINDS = {"users": SubjectKind.user, "clips": SubjectKind.clip, "comments": SubjectKind.comment}


async def forward(opened: contract.CaseOpened, *, event_id: int, services: Services) -> None:
    """Send a ``Flag`` for a case opened by a report, when what it names is another server's."""
    if opened.source != "report":
        return
    case = await moderation.get_case(db=services.db, case_id=opened.case_id)
    owner_id = case.subject_owner_id if opened.subject_kind != "user" else opened.subject_id
    owner = (await remote.actors([owner_id], services=services)).get(owner_id) if owner_id else None
    if owner is None:
        return
    named = [owner.uri]
    if opened.subject_kind in ("clip", "comment"):
        found = await objects.uri_of(opened.subject_kind, opened.subject_id, services=services)
        if found is not None:
            named.append(found.uri)
    uris = publish.uris(services=services)
    flag = documents.activity(uris, kind="Flag", event_id=event_id, actor=uris.instance_actor, object=named)
    flag["content"] = case.reason.removeprefix("reported: ")
    await deliveries.enqueue({owner.shared_inbox or owner.inbox: owner.domain}, activity=flag,
                             signer_id=INSTANCE_ACTOR, services=services)


async def receive(activity: dict[str, Any], *, sender: User, services: Services) -> int:
    """Open (or add to) a case for each of our clips, comments and accounts a ``Flag`` names;
    how many it named."""
    uris = publish.uris(services=services)
    named = activity.get("object")
    note = scrub(documents.plain_text(documents.content_of(activity)), multiline=True, limit=MAX_NOTE)
    opened = 0
    for item in named if isinstance(named, list) else [named]:
        uri = item.get("id") if isinstance(item, dict) else item
        if not isinstance(uri, str):
            continue
        for path, kind in _KINDS.items():
            local_id = uris.local_id(uri, path)
            if local_id is None:
                continue
            request = ReportRequest(kind=kind, id=local_id, category=ReportCategory.other,
                                    note=f"from {sender.domain}: {note}"[:MAX_NOTE])
            try:
                await moderation.report(services=services, reporter=sender, request=request)
                opened += 1
            except ClipfeedError:  # gone, or not something that server may see: nothing to review
                pass
    return opened
