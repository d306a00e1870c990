"""API schemas of the social feature (requests and the state each write returns)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from clipfeed.accounts.models import UserPublic
from clipfeed.clips.models import ClipPublic
from clipfeed.core.identifiers import IdText
from clipfeed.core.text import OneLine, RequiredParagraphs
from clipfeed.social.models import CommentSetting, CommentStatus

MAX_COMMENT = 1000


class FollowState(BaseModel):
    user_id: str
    following: bool = Field(description="you follow them")
    follows_you: bool
    followers_count: int
    following_count: int


class Relationship(FollowState):
    blocking: bool = Field(description="you block them")


class FollowEntry(BaseModel):
    user: UserPublic
    following: bool = Field(description="you follow them")
    follows_you: bool
    since: datetime


class FollowPage(BaseModel):
    items: list[FollowEntry]
    next_cursor: str | None


class Suggestion(BaseModel):
    user: UserPublic
    reason: str = Field(description="followed_by_friends or popular_in_region")
    mutual_count: int = Field(description="how many people you follow follow them")
    followers_count: int


class SuggestionList(BaseModel):
    items: list[Suggestion]


class BlockState(BaseModel):
    user_id: str
    blocking: bool


class BlockedUser(BaseModel):
    user: UserPublic
    since: datetime


class BlockPage(BaseModel):
    items: list[BlockedUser]
    next_cursor: str | None


class ServerBlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, max_length=300, examples=["video.example"],
                        description="the server to block: its name (with its port when not the default), "
                                    "an address on it or a handle name@server")


class ServerBlockState(BaseModel):
    domain: str = Field(description="the server's name as this server writes it (lower case, IDNA)")
    blocking: bool = Field(description="you block every account of that server")


class BlockedServer(BaseModel):
    domain: str
    since: datetime


class BlockedServerPage(BaseModel):
    items: list[BlockedServer]
    next_cursor: str | None


class LikeState(BaseModel):
    clip_id: str
    liked: bool
    like_count_estimate: int = Field(description="counter value adjusted by this write (eventual)")


class BookmarkState(BaseModel):
    clip_id: str
    bookmarked: bool
    bookmark_count_estimate: int


class Counts(BaseModel):
    likes: int = 0
    comments: int = 0
    shares: int = 0
    bookmarks: int = 0
    views: int = 0


class Engagement(BaseModel):
    clip_id: str
    counts: Counts = Field(description="eventually consistent (stream counters)")
    liked_by_me: bool = Field(description="strongly consistent: your own writes show at once")
    bookmarked_by_me: bool
    comments_setting: CommentSetting
    can_comment: bool
    pinned_comment_id: str | None = None


class EngagementList(BaseModel):
    items: list[Engagement]


class SavedClipPage(BaseModel):
    items: list[ClipPublic]
    next_cursor: str | None


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: RequiredParagraphs = Field(min_length=1, max_length=MAX_COMMENT)
    parent_id: IdText | None = Field(default=None,
                                     description="reply to this comment (replies to a reply join its thread)")


class CommentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: RequiredParagraphs = Field(min_length=1, max_length=MAX_COMMENT)


class CommentAuthor(BaseModel):
    id: str
    handle: str
    display_name: str
    avatar_url: str | None


class CommentPublic(BaseModel):
    id: str
    clip_id: str
    parent_id: str | None
    author: CommentAuthor
    body: str
    status: CommentStatus = Field(description="'held': waiting for moderation, only you see it")
    like_count: int
    reply_count: int
    liked_by_me: bool
    pinned: bool
    created_at: datetime
    edited_at: datetime | None
    editable_until: datetime | None = Field(description="set for your own comments")
    filtered: bool = Field(default=False, description=(
        "the comment matches one of your mute filters (GET /v1/me/filters): apps hide it behind 'filtered'"))


class CommentPage(BaseModel):
    items: list[CommentPublic]
    next_cursor: str | None


class CommentDeleted(BaseModel):
    id: str
    deleted: bool = True


class CommentLikeState(BaseModel):
    comment_id: str
    liked: bool
    like_count: int


class CommentSettings(BaseModel):
    clip_id: str
    comments: CommentSetting
    pinned_comment_id: str | None


class CommentSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comments: CommentSetting


class ShareChannel(StrEnum):
    link = "link"
    copy = "copy"
    user = "user"  # in-app, to another user (needs to_user)
    sms = "sms"
    email = "email"
    whatsapp = "whatsapp"
    telegram = "telegram"
    messenger = "messenger"
    x = "x"
    facebook = "facebook"
    fediverse = "fediverse"  # an Announce from another server (federation)
    other = "other"


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ShareChannel = ShareChannel.link
    to_user: OneLine | None = Field(default=None, max_length=31, description="user ID or @handle (channel=user)")


class SharePublic(BaseModel):
    id: str
    clip_id: str
    channel: ShareChannel
    to_user_id: str | None
    share_url: str
    share_count_estimate: int
