"""Remote clips: a ``Video`` that a followed account of another server published becomes a
clip here, by reference (its media played from the origin at the URLs it names).

Only a ``Video`` of an account someone here follows is stored (anything else is spam we did
not ask for), only if it is public or unlisted, and not from a server whose media we refuse.
PeerTube, Loops and Clipfeed name their media differently in ``url``: an HLS playlist link
(``application/x-mpegURL``, at the top or among a link's ``tag``), MP4 files per height, a
poster in ``icon`` (or ``image``); ``video_media`` reads all of them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from clipfeed.accounts.models import User
from clipfeed.clips import service as clips
from clipfeed.clips.models import MAX_CAPTION, TAG_TEXT, Visibility
from clipfeed.core.text import scrub
from clipfeed.federation import media_cache, policy, remote
from clipfeed.federation.documents import AS_PUBLIC, content_of, plain_text
from clipfeed.federation.models import DomainPolicy
from clipfeed.federation.objects import remember, stored
from clipfeed.social import follows

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

HLS_TYPES = {"application/x-mpegurl", "application/vnd.apple.mpegurl"}
DURATION = re.compile(r"^P(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)$")
BEST_MP4_HEIGHT = 720  # the tallest progressive file worth streaming to a phone


def visibility_of(video: dict[str, Any]) -> Visibility | None:
    audience = {*_list(video.get("to")), *_list(video.get("cc"))}
    if AS_PUBLIC not in audience and "as:Public" not in audience and "Public" not in audience:
        return None  # followers-only or direct: Clipfeed has no such clip, so it is not stored
    return Visibility.public if AS_PUBLIC in _list(video.get("to")) else Visibility.unlisted


def duration_ms(value: Any) -> int | None:
    found = DURATION.match(value) if isinstance(value, str) else None
    if not found:
        return None
    hours, minutes, seconds = (float(part) if part else 0.0 for part in found.groups())
    return int((hours * 3600 + minutes * 60 + seconds) * 1000)


def is_video_post(note: Any) -> TypeGuard[dict[str, Any]]:
    """Whether a ``Note`` is a video post, as Loops publishes them (not a reply, a
    ``video/mp4`` attachment), to be stored as a clip rather than as a comment."""
    return isinstance(note, dict) and note.get("type") == "Note" and not note.get("inReplyTo") and any(
        isinstance(item, dict) and str(item.get("mediaType") or "").lower() == "video/mp4"
        and _web_url(item.get("url") or item.get("href")) for item in _list(note.get("attachment")))


def video_media(video: dict[str, Any]) -> dict[str, str]:
    """role -> URL (``hls``, ``mp4``, ``poster``) of what the Video links to (in ``url``, or in
    ``attachment`` as Mastodon and Loops put files, with the URL as ``url`` or ``href``)."""
    links = [link for item in _list(video.get("url")) for link in [item, *_list(
        item.get("tag") if isinstance(item, dict) else None)] if isinstance(link, dict)]
    links += [{**item, "href": item.get("href") or item.get("url")} for item in _list(video.get("attachment"))
              if isinstance(item, dict) and isinstance(item.get("href") or item.get("url"), str)]
    media: dict[str, str] = {}
    mp4s: list[tuple[int, str]] = []
    for link in links:
        href, kind = link.get("href"), str(link.get("mediaType") or "").lower()
        if not _web_url(href):
            continue
        if kind in HLS_TYPES and "hls" not in media:
            media["hls"] = str(href)
        elif kind == "video/mp4":
            height = link.get("height")
            mp4s.append((height if isinstance(height, int) else 0, str(href)))
    if mp4s:  # the tallest that fits a phone (an unknown height counts as fitting), else the smallest
        fitting = [m for m in mp4s if m[0] <= BEST_MP4_HEIGHT]
        media["mp4"] = (max(fitting) if fitting else min(mp4s))[1]
    for image in [*_list(video.get("icon")), *_list(video.get("image"))]:
        url = image.get("url") if isinstance(image, dict) else image
        if isinstance(url, list):
            url = next((u.get("href") for u in url if isinstance(u, dict)), None)
        if _web_url(url):
            media["poster"] = str(url)
            break
    return media


async def store(video: dict[str, Any], *, sender: User, services: Services) -> int | None:
    """Store or refresh ``video`` as a clip of ``sender``; its ID here, or None when refused."""
    uri = video.get("id")
    if not isinstance(uri, str) or remote.authority_of(uri) != (sender.domain or ""):
        return None
    actor = (await remote.actors([sender.id], services=services)).get(sender.id)
    if actor is None or _attributed(video) != actor.uri:
        return None
    visibility, media = visibility_of(video), video_media(video)
    if visibility is None or not (media.get("hls") or media.get("mp4")):
        return None
    if await policy.policy_of(sender.domain or "", services=services) in (DomainPolicy.reject_media,
                                                                        DomainPolicy.suspend):
        return None
    known = await stored(uri, services=services)
    if known is None:
        counts = (await follows.follow_counts(db=services.db, user_ids=[sender.id])).get(sender.id, (0, 0))
        if counts[0] == 0:
            return None
    clip = await clips.store_remote(
        db=services.db, outbox=services.outbox, ids=services.ids, clip_id=known.local_id if known else None,
        owner_id=sender.id, caption=_caption(video), hashtags=_hashtags(video), visibility=visibility,
        duration_ms=duration_ms(video.get("duration")), width=_size(video, "width"), height=_size(video, "height"),
        published_at=_when(video.get("published")), media=media,
        cache_from=await media_cache.source_for(sender.domain or "", media, services=services))
    if known is None:
        await remember(video, "clip", clip.id, clip.id, sender=sender, services=services)
    return clip.id


def _attributed(video: dict[str, Any]) -> str | None:
    for item in _list(video.get("attributedTo")):
        uri = item.get("id") if isinstance(item, dict) else item
        kind = item.get("type") if isinstance(item, dict) else None
        if isinstance(uri, str) and kind in (None, "Person", "Service", "Application"):
            return uri
    return None


def _caption(video: dict[str, Any]) -> str:
    name = video.get("name")
    text = plain_text(content_of(video)) or (name if isinstance(name, str) else "")
    return scrub(text, multiline=True, limit=MAX_CAPTION)


def _hashtags(video: dict[str, Any]) -> list[str]:
    tags = []
    for tag in _list(video.get("tag")):
        if isinstance(tag, dict) and tag.get("type") == "Hashtag" and isinstance(tag.get("name"), str):
            name = tag["name"].lstrip("#").lower()
            if TAG_TEXT.match(name):  # one we could not write ourselves is left out, not the clip
                tags.append(name)
    return tags


def _size(video: dict[str, Any], field: str) -> int | None:
    for link in _list(video.get("url")):
        if isinstance(link, dict) and isinstance(link.get(field), int):
            return int(link[field])
    return None


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        return None


def _web_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) < 2000


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
