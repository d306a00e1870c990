"""The event contract: every topic, every event type and the payload each type carries.

Producers build events here (``LIKE_ADDED.event(...)``, or ``outbox.record(session, LIKE_ADDED,
...)``) and consumers read them here (``LIKE_ADDED.parse(event)``), so a type's name, its topic
and its fields are written once. ``tests/core/test_contract.py`` holds every type to being
produced somewhere and read by the consumers named in ``readers`` (or says why none reads it).

The wire format is the envelope of ``clipfeed.core.events`` with the payload as a JSON object.
IDs travel as decimal strings (JavaScript readers lose precision past 2^53); the models take
and give ints. Payloads allow unknown fields, and fields added later get defaults, so events
stored by an older or newer producer still parse (``version`` in the envelope counts
breaking changes; there has been none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from clipfeed.core.events import Event


class Topic:
    """Topic names. The key of each decides the partition, so per-key order holds."""

    CLIPS = "clips"                          # key: clip ID; clip lifecycle
    USERS = "users"                          # key: user ID; account lifecycle
    SOCIAL = "social"                        # key: clip ID; followee (follows); blocked (blocks)
    ACTIVITY_CLIPS = "activity.clips"        # key: clip ID; playback + clip-targeted social events
    ACTIVITY_USERS = "activity.users"        # key: the viewer (``core.viewers``); the same + follows
    MEDIA_UPLOADED = "media.uploaded"        # key: clip ID; work queue of media jobs
    MEDIA_PROGRESS = "media.progress"        # key: clip ID; progress for the status stream
    MEDIA_CHUNKS = "media.chunks"            # key: clip ID; chunks of long clips to encode
    MEDIA_RETRANSCODE = "media.retranscode"  # key: clip ID; cold clips popular again
    NOTIFICATIONS = "notifications"          # key: recipient user ID; live signal for SSE
    MODERATION = "moderation"                # key: subject ID (blocklist: entry ID)
    FEDERATION_INBOX = "federation.inbox"    # key: the sending actor's URI; activities received

    @staticmethod
    def dead_letters(group: str) -> str:
        """Records the consumer group ``group`` gave up on (``error`` header)."""
        return f"dlq.{group}"


def _id_in(value: Any) -> Any:
    return None if value == "" else value


_Id = Annotated[int, Field(ge=0, lt=2**63)]
WireId = Annotated[_Id, BeforeValidator(_id_in), PlainSerializer(str, return_type=str)]
OptionalWireId = Annotated[_Id | None, BeforeValidator(_id_in), Field(default=None),
                           PlainSerializer(lambda v: None if v is None else str(v), return_type=str | None)]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


# -- clips ---------------------------------------------------------------------------------

class ClipChanged(Payload):
    """A clip's state after the change (created, status changed)."""

    clip_id: WireId
    owner_id: WireId
    status: str
    visibility: str
    hashtags: list[str] = Field(default_factory=list)
    remote: bool = Field(default=False, description="a clip of another server, stored as a reference")


class ClipUpdated(ClipChanged):
    fields: list[str] = Field(default_factory=list, description="what the owner changed")


class ClipDeleted(Payload):
    clip_id: WireId
    owner_id: WireId


# -- users ---------------------------------------------------------------------------------

class UserRegistered(Payload):
    handle: str


class UserUpdated(Payload):
    fields: list[str] = Field(default_factory=list)


class UserDeleted(Payload):
    clip_ids: list[WireId] = Field(default_factory=list)


class UserStanding(Payload):
    """Suspended or reinstated."""

    reason: str | None = None


# -- social (user_id is the actor) ---------------------------------------------------------

class ClipEngagement(Payload):
    user_id: WireId
    clip_id: WireId
    creator_id: WireId
    reason: str | None = None  # set when removed by someone else (an account deletion)


class ShareCreated(ClipEngagement):
    share_id: WireId
    channel: str
    to_user_id: OptionalWireId


class CommentCreated(ClipEngagement):
    comment_id: WireId
    parent_id: OptionalWireId
    reply_to_user_id: OptionalWireId
    mention_ids: list[WireId] = Field(default_factory=list)


class CommentDeleted(ClipEngagement):
    comment_id: WireId
    parent_id: OptionalWireId
    author_id: WireId


class FollowChanged(Payload):
    """``user_id`` follows (or stopped following) ``followee_id``. ``ended_by``, on a removal:
    who ended it when that was not the follower (the followee blocking them or their server, or
    another server telling us its account refused the follow); federation tells the other side
    only of what it did not do itself."""

    user_id: WireId
    followee_id: WireId
    ended_by: OptionalWireId = None


class BlockChanged(Payload):
    user_id: WireId
    blocked_id: WireId


class DomainBlockChanged(Payload):
    """A user blocked, or stopped blocking, every account of a server (``users.domain``)."""

    user_id: WireId
    domain: str


# -- playback (``POST /v1/events``, on both activity topics) -------------------------------

class PlaybackType(StrEnum):
    impression = "impression"          # the clip was shown (feed card, grid, search result)
    play_start = "play_start"          # playback started (counts a view)
    progress = "progress"              # heartbeat: watch_ms watched since the previous report
    complete = "complete"              # playback reached the end
    replay = "replay"                  # playback restarted after completing
    skip = "skip"                      # the viewer moved on at position_ms
    share = "share"                    # shared from the player (OS share sheet, copy link)
    not_interested = "not_interested"  # "show me less of this"


class Playback(Payload):
    clip_id: WireId
    viewer: str = Field(min_length=1, description="the viewer (clipfeed.core.viewers)")
    user_id: OptionalWireId
    client_event_id: str = ""
    session_id: str = ""
    device: str = ""
    network: str = ""
    source: str | None = None
    received_ms: int = 0
    watch_ms: int | None = Field(default=None, ge=0, lt=2**63)
    position_ms: int | None = Field(default=None, ge=0, lt=2**63)
    duration_ms: int | None = Field(default=None, ge=0, lt=2**63)
    ended: bool = False  # a progress report: the viewer left the play before the clip's end


# -- media ---------------------------------------------------------------------------------

class MediaUploaded(Payload):
    clip_id: WireId
    owner_id: WireId
    master_key: str
    filename: str
    size: int | None = None
    sha256: str | None = None
    edits: dict[str, Any] | None = None
    upload_id: str | None = None
    # A remote clip's media to cache (federation): the job fetches it from here instead of
    # reading ``master_key``, and the clip stays ready (streamed from its origin) meanwhile.
    source_url: str | None = None


class MediaProgress(Payload):
    clip_id: WireId
    stage: str
    percent: float
    status: str
    message: str = ""


class MediaChunk(Payload):
    clip_id: WireId
    job: WireId
    index: int
    start: float
    length: float
    master_key: str
    edits: dict[str, Any] | None = None
    extra_codecs: list[str] = Field(default_factory=list)
    # The job copies the top rung from the source (media/passthrough.py): chunks encode the
    # others. Decided once by the job, so every chunk of it holds the same rungs.
    copy_top: bool = False


class MediaRetranscode(Payload):
    clip_id: WireId
    renditions: list[str]
    master_prefix: str


# -- notifications, moderation -------------------------------------------------------------

class NotificationChanged(Payload):
    """The notification as ``GET /v1/notifications`` shows it (``NotificationPublic``)."""

    id: str
    kind: str
    updated_at: datetime


class CaseOpened(Payload):
    case_id: WireId
    subject_kind: str
    subject_id: WireId
    source: str


class CaseDecided(Payload):
    case_id: WireId
    subject_kind: str
    subject_id: WireId
    reason: str | None = None


class BlocklistAdded(Payload):
    entry_id: WireId
    source_clip_id: str = ""


class BlocklistRemoved(Payload):
    entry_id: WireId


# -- the types -----------------------------------------------------------------------------

# -- federation ----------------------------------------------------------------------------

class ActivityReceived(Payload):
    """An ActivityPub activity whose signature checked out, queued for the federation worker."""

    activity: dict[str, Any]
    sender_id: WireId  # the users row of the remote actor that signed it
    recipient_id: OptionalWireId  # the local user whose inbox took it; none for the shared inbox


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class EventType(Generic[P]):
    """One event type: its name (the envelope's ``type``), its topic and its payload model.

    ``readers`` names the consumer groups (or ``live:<what>`` for a live stream) that act on
    it; a type none reads says why in ``unread``. ``also_on``: the topics the stream's relay
    (or the ingestion) copies it to besides its own."""

    name: str
    topic: str
    payload: type[P]
    readers: tuple[str, ...] = ()
    unread: str = ""
    also_on: tuple[str, ...] = ()

    def event(self, *, id: int, key: int | str, payload: P, actor_id: int | None = None,
              region: str | None = None, occurred_at: datetime | None = None) -> Event:
        if not isinstance(payload, self.payload):
            raise TypeError(f"{self.name} carries {self.payload.__name__}, not {type(payload).__name__}")
        fields: dict[str, Any] = {"id": id, "type": self.name, "key": str(key), "actor_id": actor_id,
                                  "region": region, "payload": self.dump(payload)}
        if occurred_at is not None:
            fields["occurred_at"] = occurred_at
        return Event(**fields)

    @staticmethod
    def dump(payload: Payload) -> dict[str, Any]:
        """The wire form: the fields the producer set (so optional ones stay absent)."""
        return payload.model_dump(mode="json", exclude_unset=True)

    def parse(self, event: Event) -> P:
        """The typed payload; ``ValueError`` (pydantic's ``ValidationError``) if it is not one
        or the event is of another type."""
        if event.type != self.name:
            raise ValueError(f"expected a {self.name} event, got {event.type!r}")
        return self.payload.model_validate(event.payload)

    def parse_payload(self, payload: dict[str, Any]) -> P:
        return self.payload.model_validate(payload)


# Consumer groups, for ``readers`` (each is a processor's ``group``; tests check they exist and
# subscribe to the type's topic).
CATALOG, RECS_INDEX, SEARCH_INDEX, EMBEDDER = "stream-catalog", "recs-indexer", "search-indexer", "search-embedder"
PURGE, FANOUT, CLEANUP = "delivery-purge", "notifications-fanout", "social-cleanup"
FEDERATION_IN, FEDERATION_OUT = "federation-inbox", "federation-outbox"
RELAY, STREAM_CLIPS, STREAM_USERS, FEEDBACK, LAKE = (
    "stream-relay", "stream-clips", "stream-users", "recs-feedback", "batch-lake")
STATUS_STREAM, NOTIFICATION_STREAM = "live:clip-status", "live:notifications"

_CLIP_READERS = (CATALOG, RECS_INDEX, SEARCH_INDEX, EMBEDDER, STATUS_STREAM)


def _clip(status: str, *extra: str) -> EventType[ClipChanged]:
    return EventType(f"clip.{status}", Topic.CLIPS, ClipChanged, readers=(*_CLIP_READERS, *extra))


CLIP_CREATED = _clip("created")
# A media job ends with clip.ready, .review, .rejected or .failed (there is no media.results:
# nothing read it that the clip event does not say).
CLIP_UPDATED: EventType[ClipUpdated] = EventType("clip.updated", Topic.CLIPS, ClipUpdated,
                                                 readers=(*_CLIP_READERS, PURGE, FEDERATION_OUT))
CLIP_DELETED: EventType[ClipDeleted] = EventType("clip.deleted", Topic.CLIPS, ClipDeleted,
                                                 readers=(*_CLIP_READERS, PURGE, FEDERATION_OUT))
# ``clip.<status>`` after each status change (``ClipStatus``; a new clip is ``clip.created``, a
# deleted one ``clip.deleted``); a takedown purges the edges.
CLIP_STATUS: dict[str, EventType[ClipChanged]] = {
    "processing": _clip("processing"), "review": _clip("review", PURGE, FEDERATION_OUT),
    "ready": _clip("ready", FANOUT, FEDERATION_OUT), "rejected": _clip("rejected", FANOUT, PURGE, FEDERATION_OUT),
    "failed": _clip("failed", FANOUT)}
CLIP_READY, CLIP_REJECTED, CLIP_FAILED = CLIP_STATUS["ready"], CLIP_STATUS["rejected"], CLIP_STATUS["failed"]

USER_REGISTERED: EventType[UserRegistered] = EventType("user.registered", Topic.USERS, UserRegistered,
                                                       readers=(SEARCH_INDEX,))
USER_UPDATED: EventType[UserUpdated] = EventType("user.updated", Topic.USERS, UserUpdated,
                                                 readers=(SEARCH_INDEX, FEDERATION_OUT))
USER_DELETED: EventType[UserDeleted] = EventType("user.deleted", Topic.USERS, UserDeleted,
                                                 readers=(SEARCH_INDEX, RECS_INDEX, CLEANUP, FANOUT, FEDERATION_OUT))
USER_SUSPENDED: EventType[UserStanding] = EventType("user.suspended", Topic.USERS, UserStanding,
                                                    readers=(SEARCH_INDEX, RECS_INDEX))
USER_REINSTATED: EventType[UserStanding] = EventType("user.reinstated", Topic.USERS, UserStanding,
                                                     readers=(SEARCH_INDEX, RECS_INDEX))
# A user's block of a whole server, and its end (key: that user; no activity leaves for it). The
# request has already made the user's feeds re-read blocks; the social cleanup does it once more,
# for a feed build that read the blocks as they were while the change committed.
DOMAIN_BLOCK_ADDED: EventType[DomainBlockChanged] = EventType("user.domain_blocked", Topic.USERS, DomainBlockChanged,
                                                              readers=(CLEANUP,))
DOMAIN_BLOCK_REMOVED: EventType[DomainBlockChanged] = EventType("user.domain_unblocked", Topic.USERS,
                                                                DomainBlockChanged, readers=(CLEANUP,))

# Clip-targeted social events are engagement: relayed to the activity topics, counted there.
_TO_BOTH, _TO_USERS = (Topic.ACTIVITY_CLIPS, Topic.ACTIVITY_USERS), (Topic.ACTIVITY_USERS,)
_ENGAGED = (RELAY, STREAM_CLIPS, STREAM_USERS, FEEDBACK, LAKE)
LIKE_ADDED: EventType[ClipEngagement] = EventType("like.added", Topic.SOCIAL, ClipEngagement,
                                                  readers=(*_ENGAGED, FANOUT, FEDERATION_OUT), also_on=_TO_BOTH)
LIKE_REMOVED: EventType[ClipEngagement] = EventType("like.removed", Topic.SOCIAL, ClipEngagement,
                                                    readers=(*_ENGAGED, FEDERATION_OUT), also_on=_TO_BOTH)
BOOKMARK_ADDED: EventType[ClipEngagement] = EventType("bookmark.added", Topic.SOCIAL, ClipEngagement,
                                                      readers=_ENGAGED, also_on=_TO_BOTH)
BOOKMARK_REMOVED: EventType[ClipEngagement] = EventType("bookmark.removed", Topic.SOCIAL, ClipEngagement,
                                                        readers=_ENGAGED, also_on=_TO_BOTH)
# Engagement a user can take back (the social feature picks the type by noun and direction).
ENGAGEMENT: dict[tuple[str, bool], EventType[ClipEngagement]] = {
    ("like", True): LIKE_ADDED, ("like", False): LIKE_REMOVED,
    ("bookmark", True): BOOKMARK_ADDED, ("bookmark", False): BOOKMARK_REMOVED}
SHARE_CREATED: EventType[ShareCreated] = EventType("share.created", Topic.SOCIAL, ShareCreated,
                                                   readers=(*_ENGAGED, FANOUT, FEDERATION_OUT), also_on=_TO_BOTH)
COMMENT_CREATED: EventType[CommentCreated] = EventType("comment.created", Topic.SOCIAL, CommentCreated,
                                                       readers=(*_ENGAGED, FANOUT, FEDERATION_OUT), also_on=_TO_BOTH)
COMMENT_DELETED: EventType[CommentDeleted] = EventType("comment.deleted", Topic.SOCIAL, CommentDeleted,
                                                       readers=(*_ENGAGED, FEDERATION_OUT), also_on=_TO_BOTH)
_FOLLOWED = (RELAY, STREAM_USERS, FEEDBACK, LAKE)
FOLLOW_ADDED: EventType[FollowChanged] = EventType("follow.added", Topic.SOCIAL, FollowChanged,
                                                   readers=(*_FOLLOWED, FANOUT, FEDERATION_OUT), also_on=_TO_USERS)
FOLLOW_REMOVED: EventType[FollowChanged] = EventType("follow.removed", Topic.SOCIAL, FollowChanged,
                                                     readers=(*_FOLLOWED, FEDERATION_OUT), also_on=_TO_USERS)
BLOCK_ADDED: EventType[BlockChanged] = EventType("block.added", Topic.SOCIAL, BlockChanged,
                                                 readers=(FEEDBACK, FEDERATION_OUT))
BLOCK_REMOVED: EventType[BlockChanged] = EventType("block.removed", Topic.SOCIAL, BlockChanged, readers=(FEEDBACK,))

_PLAYED = (STREAM_CLIPS, STREAM_USERS, FEEDBACK, LAKE)
# One per ``PlaybackType``; ``POST /v1/events`` appends them straight to both activity topics.
PLAYBACK: dict[str, EventType[Playback]] = {
    kind.value: EventType(kind.value, Topic.ACTIVITY_USERS, Playback, readers=_PLAYED, also_on=(Topic.ACTIVITY_CLIPS,))
    for kind in PlaybackType}

MEDIA_UPLOADED: EventType[MediaUploaded] = EventType("media.uploaded", Topic.MEDIA_UPLOADED, MediaUploaded,
                                                     readers=("media",))
MEDIA_PROGRESS: EventType[MediaProgress] = EventType("media.progress", Topic.MEDIA_PROGRESS, MediaProgress,
                                                     readers=(STATUS_STREAM,))
MEDIA_CHUNK: EventType[MediaChunk] = EventType("media.chunk", Topic.MEDIA_CHUNKS, MediaChunk,
                                               readers=("media-chunks",))
MEDIA_RETRANSCODE: EventType[MediaRetranscode] = EventType("media.retranscode", Topic.MEDIA_RETRANSCODE,
                                                           MediaRetranscode, readers=("media-retranscode",))

NOTIFICATION_CREATED: EventType[NotificationChanged] = EventType(
    "notification.created", Topic.NOTIFICATIONS, NotificationChanged, readers=(NOTIFICATION_STREAM,))
NOTIFICATION_UPDATED: EventType[NotificationChanged] = EventType(
    "notification.updated", Topic.NOTIFICATIONS, NotificationChanged, readers=(NOTIFICATION_STREAM,))

_AUDIT = ("the moderation audit trail: no Clipfeed process acts on it (moderators' decisions take effect "
          "in the same transaction); kept for operators' tools and external consumers")
# Reports of another server's clip, comment or account are forwarded to it (a Flag).
CASE_OPENED: EventType[CaseOpened] = EventType("moderation.case_opened", Topic.MODERATION, CaseOpened,
                                               readers=(FEDERATION_OUT,))
CASE_DECIDED: dict[str, EventType[CaseDecided]] = {
    status: EventType(f"moderation.{status}", Topic.MODERATION, CaseDecided, unread=_AUDIT)
    for status in ("approved", "rejected")}
BLOCKLIST_ADDED: EventType[BlocklistAdded] = EventType("moderation.blocklist_added", Topic.MODERATION,
                                                       BlocklistAdded, unread=_AUDIT)
BLOCKLIST_REMOVED: EventType[BlocklistRemoved] = EventType("moderation.blocklist_removed", Topic.MODERATION,
                                                           BlocklistRemoved, unread=_AUDIT)


ACTIVITY_RECEIVED: EventType[ActivityReceived] = EventType(
    "federation.received", Topic.FEDERATION_INBOX, ActivityReceived, readers=(FEDERATION_IN,))


def _all() -> dict[str, EventType[Any]]:
    found: dict[str, EventType[Any]] = {}
    for value in list(globals().values()):
        for item in value.values() if isinstance(value, dict) else [value]:
            if isinstance(item, EventType):
                found[item.name] = item
    return found


EVENT_TYPES: dict[str, EventType[Any]] = _all()


def parse(event: Event) -> Payload:
    """The typed payload of any event of the contract; ``ValueError`` for an unknown type or a
    payload that is not its type's."""
    event_type = EVENT_TYPES.get(event.type)
    if event_type is None:
        raise ValueError(f"unknown event type {event.type!r}")
    return event_type.parse(event)
