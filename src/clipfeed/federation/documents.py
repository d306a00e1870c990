"""The ActivityPub documents Clipfeed publishes: actors, clips as ``Video``, comments as
``Note``, activities and collections, and the URIs that name them.

IDs use numeric user IDs, not handles (``/ap/users/<id>``), so a handle change keeps every
follow made from other servers; WebFinger and ``/@handle`` lead to them. A clip's ``Video``
follows the shape PeerTube and Loops publish (``url`` links with media types and sizes, a
poster ``icon``, ``Hashtag`` tags), which Mastodon shows as a video attachment too.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

from clipfeed import __version__

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CONTEXT: list[Any] = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    {"Hashtag": "as:Hashtag", "sensitive": "as:sensitive", "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
     "featured": {"@id": "toot:featured", "@type": "@id"}, "toot": "http://joinmastodon.org/ns#"},
]
ACTIVITY_JSON = "application/activity+json"
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
SOFTWARE = "clipfeed"
TAGS = re.compile(r"<[^>]+>")
BREAKS = re.compile(r"<br\s*/?>", re.IGNORECASE)
PARAGRAPHS = re.compile(r"</p>\s*<p[^>]*>", re.IGNORECASE)


class Uris:
    """Every URI this server names things by, from its public base URL."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    @property
    def host(self) -> str:
        return self.base.split("://", 1)[1].split("/", 1)[0]

    def actor(self, user_id: int) -> str:
        return f"{self.base}/ap/users/{user_id}"

    def key(self, user_id: int) -> str:
        return f"{self.actor(user_id)}#main-key"

    @property
    def instance_actor(self) -> str:
        return f"{self.base}/ap/actor"

    @property
    def instance_key(self) -> str:
        return f"{self.instance_actor}#main-key"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/ap/inbox"

    def clip(self, clip_id: int) -> str:
        return f"{self.base}/ap/clips/{clip_id}"

    def comment(self, comment_id: int) -> str:
        return f"{self.base}/ap/comments/{comment_id}"

    def activity(self, event_id: int) -> str:
        return f"{self.base}/ap/activities/{event_id}"

    def follow(self, follower_id: int, followee_id: int) -> str:
        return f"{self.base}/ap/follows/{follower_id}/{followee_id}"

    def profile_page(self, handle: str) -> str:
        return f"{self.base}/@{handle}"

    def clip_page(self, clip_id: int) -> str:
        return f"{self.base}/share/c/{clip_id}"

    def local_id(self, uri: str, kind: str) -> int | None:
        """The ID in one of our URIs of ``kind`` (users, clips, comments), or None."""
        prefix = f"{self.base}/ap/{kind}/"
        if not uri.startswith(prefix):
            return None
        rest = uri[len(prefix):].split("#", 1)[0].split("/", 1)[0]
        return int(rest) if rest.isdigit() and len(rest) < 20 else None


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def person(uris: Uris, *, user_id: int, handle: str, display_name: str, bio: str, avatar_url: str | None,
           public_pem: str, created_at: datetime) -> dict[str, Any]:
    actor = uris.actor(user_id)
    document: dict[str, Any] = {
        "@context": CONTEXT, "id": actor, "type": "Person", "preferredUsername": handle,
        "name": display_name or handle, "summary": bio, "url": uris.profile_page(handle),
        "inbox": f"{actor}/inbox", "outbox": f"{actor}/outbox", "followers": f"{actor}/followers",
        "following": f"{actor}/following", "featured": f"{actor}/featured",
        "endpoints": {"sharedInbox": uris.shared_inbox}, "manuallyApprovesFollowers": False,
        "discoverable": True, "published": _when(created_at),
        "publicKey": {"id": uris.key(user_id), "owner": actor, "publicKeyPem": public_pem},
    }
    if avatar_url:
        document["icon"] = {"type": "Image", "url": avatar_url}
    return document


def instance_actor(uris: Uris, *, public_pem: str) -> dict[str, Any]:
    """The server's own actor: it signs fetches made on no user's behalf (authorized fetch)."""
    actor = uris.instance_actor
    return {"@context": CONTEXT, "id": actor, "type": "Application", "preferredUsername": uris.host,
            "name": SOFTWARE, "inbox": uris.shared_inbox, "outbox": f"{actor}/outbox",
            "endpoints": {"sharedInbox": uris.shared_inbox}, "manuallyApprovesFollowers": True,
            "publicKey": {"id": uris.instance_key, "owner": actor, "publicKeyPem": public_pem}}


def audience(uris: Uris, owner_id: int, visibility: str) -> tuple[list[str], list[str]]:
    """(to, cc) of a public or unlisted object; private ones never leave the server."""
    followers = f"{uris.actor(owner_id)}/followers"
    if visibility == "public":
        return [AS_PUBLIC], [followers]
    return [followers], [AS_PUBLIC]  # unlisted: public, but in no public timeline


def video(uris: Uris, *, clip_id: int, owner_id: int, caption: str, hashtags: list[str], visibility: str,
          duration_ms: int | None, width: int | None, height: int | None, language: str | None,
          published: datetime | None, updated: datetime | None, hls_url: str | None, mp4_url: str | None,
          poster_url: str | None, sensitive: bool = False) -> dict[str, Any]:
    to, cc = audience(uris, owner_id, visibility)
    links: list[dict[str, Any]] = [{"type": "Link", "mediaType": "text/html", "href": uris.clip_page(clip_id)}]
    if hls_url:
        links.append({"type": "Link", "mediaType": "application/x-mpegURL", "href": hls_url})
    if mp4_url:
        links.append({"type": "Link", "mediaType": "video/mp4", "href": mp4_url, "width": width, "height": height})
    # Mastodon plays media only from ``attachment`` (a Video without one shows as a link).
    attachment = [{"type": "Document", "mediaType": "video/mp4", "url": mp4_url, "width": width, "height": height,
                   "name": caption.split("\n", 1)[0][:100]}] if mp4_url else []
    document: dict[str, Any] = {
        "@context": CONTEXT, "id": uris.clip(clip_id), "type": "Video", "attributedTo": uris.actor(owner_id),
        "name": caption.split("\n", 1)[0][:100], "content": caption, "mediaType": "text/plain",
        "url": links, "attachment": attachment, "to": to, "cc": cc, "sensitive": sensitive,
        "published": _when(published),
        "updated": _when(updated),
        "tag": [{"type": "Hashtag", "name": f"#{tag}", "href": f"{uris.base}/tags/{tag}"} for tag in hashtags],
        "replies": f"{uris.clip(clip_id)}/replies",
    }
    if duration_ms is not None:
        document["duration"] = f"PT{max(1, round(duration_ms / 1000))}S"
    if language:
        document["contentMap"] = {language: caption}
    if poster_url:
        document["icon"] = [{"type": "Image", "mediaType": "image/jpeg", "url": poster_url,
                             "width": width, "height": height}]
    return document


# Software that takes a clip only as a ``Note`` with a video attachment (its NodeInfo name).
NOTE_ONLY_SOFTWARE = frozenset({"loops"})


def as_video_post(activity: dict[str, Any]) -> dict[str, Any]:
    """``activity`` (a ``Create`` or ``Update`` of a clip's ``Video``) as Loops takes it: the
    object a ``Note`` whose ``url`` is the clip's page and whose ``attachment`` holds the MP4;
    the same ID, so a later ``Update`` or ``Delete`` names the same object. Anything else is
    returned as it is."""
    found = activity.get("object")
    if activity.get("type") not in ("Create", "Update") or not isinstance(found, dict) \
            or found.get("type") != "Video" or not found.get("attachment"):
        return activity
    page = next((link["href"] for link in found.get("url") or [] if isinstance(link, dict)
                 and link.get("mediaType") == "text/html"), found["id"])
    post = {key: value for key, value in found.items() if key not in ("name", "duration", "icon", "mediaType")}
    post.update(type="Note", url=page, summary=None, inReplyTo=None,
                content=_paragraphs(found.get("content") or ""))
    return {**activity, "object": post}


def note(uris: Uris, *, comment_id: int, author_uri: str, clip_id: int, parent_uri: str | None, body: str,
         clip_owner_uri: str | None, published: datetime) -> dict[str, Any]:
    """A comment; ``parent_uri``: the clip's or the comment's it answers (ours by default)."""
    return {"@context": CONTEXT, "id": uris.comment(comment_id), "type": "Note", "attributedTo": author_uri,
            "inReplyTo": parent_uri or uris.clip(clip_id), "content": _paragraphs(body), "mediaType": "text/html",
            "source": {"content": body, "mediaType": "text/plain"}, "to": [AS_PUBLIC],
            "cc": [clip_owner_uri] if clip_owner_uri else [], "published": _when(published)}


def activity(uris: Uris, *, kind: str, event_id: int, actor: str, object: Any, to: list[str] | None = None,
             cc: list[str] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"@context": CONTEXT, "id": uris.activity(event_id), "type": kind, "actor": actor,
                                "object": object}
    if to is not None:
        document["to"] = to
    if cc is not None:
        document["cc"] = cc
    return document


def tombstone(uri: str, *, former_type: str, deleted: datetime) -> dict[str, Any]:
    return {"id": uri, "type": "Tombstone", "formerType": former_type, "deleted": _when(deleted)}


def collection(uri: str, *, total: int, first: str | None = None, ordered: bool = True,
               items: list[Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"@context": CONTEXT, "id": uri,
                                "type": "OrderedCollection" if ordered else "Collection", "totalItems": total}
    if items is not None:
        document["orderedItems" if ordered else "items"] = items
    elif first:
        document["first"] = first
    return document


def collection_page(uri: str, *, part_of: str, items: list[Any], next_uri: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {"@context": CONTEXT, "id": uri, "type": "OrderedCollectionPage",
                                "partOf": part_of, "orderedItems": items}
    if next_uri:
        document["next"] = next_uri
    return document


def nodeinfo(uris: Uris, *, open_registrations: bool, users: int, active_month: int, active_half_year: int,
             local_posts: int, name: str, description: str) -> dict[str, Any]:
    return {"version": "2.1",
            "software": {"name": SOFTWARE, "version": __version__, "homepage": uris.base},
            "protocols": ["activitypub"], "services": {"inbound": [], "outbound": []},
            "openRegistrations": open_registrations,
            "usage": {"users": {"total": users, "activeMonth": active_month, "activeHalfyear": active_half_year},
                      "localPosts": local_posts},
            "metadata": {"nodeName": name, "nodeDescription": description}}


def _paragraphs(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(f"<p>{part.replace(chr(10), '<br>')}</p>" for part in escaped.split("\n\n") if part)


def plain_text(content: str) -> str:
    """A Note's (or Video's) HTML as the plain text our comments and captions hold: paragraphs
    and line breaks kept, markup dropped, entities decoded."""
    return html.unescape(TAGS.sub("", BREAKS.sub("\n", PARAGRAPHS.sub("\n\n", content)))).strip()


def content_of(document: dict[str, Any]) -> str:
    """A Note's or Video's HTML text: ``content``, else the first of ``contentMap`` (some
    servers send only the map)."""
    content = document.get("content")
    if isinstance(content, str) and content.strip():
        return content
    languages = document.get("contentMap")
    if isinstance(languages, dict):
        return next((text for text in languages.values() if isinstance(text, str) and text.strip()), "")
    return ""
