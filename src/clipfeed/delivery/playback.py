"""What a player needs to start a clip: URLs (edge-based, signed when needed), the start
rendition for the viewer's network, and the first objects to prefetch.

``playback_info`` is what the feed puts into each item and what ``GET /v1/clips/{id}`` shows;
``url_builder`` is its synchronous part (no I/O), for lists of clips.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from clipfeed.clips.models import Clip, ClipStatus, Visibility
from clipfeed.core.errors import NotFound
from clipfeed.delivery.edge_routing import EdgeDirectory
from clipfeed.delivery.models import PlaybackInfo, Rendition
from clipfeed.delivery.signing import Signer, clip_scope
from clipfeed.delivery.ttl import media_type
from clipfeed.settings import Settings
from clipfeed.storage.layout import Layout, clip_layout

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

# Tallest rendition to start with per reported network (the Network Information API's
# ``effectiveType``, or what a native client says); the player adapts from there.
START_HEIGHT = {"slow-2g": 240, "2g": 240, "3g": 360, "4g": 720, "5g": 1080, "wifi": 1080, "ethernet": 1080}
UNKNOWN_NETWORK_HEIGHT = 480
# Where each role's object is in ``clip.media``: top-level pointer names, then file names in
# ``media["images"]`` (what the media pipeline writes), in order of preference.
ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hls": (("hls",), ()), "dash": (("dash",), ()), "mp4": (("mp4", "fallback"), ()),
    "poster": (("poster",), ("poster_720.webp", "poster_360.webp", "poster_180.webp")),
    "poster_jpg": (("poster_jpg",), ("poster_720.jpg", "poster_360.jpg", "poster_180.jpg")),
    "sprite_vtt": (("sprite_vtt",), ("sprite.vtt",)),
    "preview": (("preview",), ("preview.webp",)),
}
IMAGE_ROLES = ("poster", "poster_jpg", "sprite_vtt", "preview")


def start_height(network: str | None) -> int:
    return START_HEIGHT.get((network or "").strip().lower(), UNKNOWN_NETWORK_HEIGHT)


def image_version(clip: Clip) -> str:
    """Changes whenever the clip row does (a new cover among others), so image URLs change."""
    return str(int(clip.updated_at.timestamp())) if clip.updated_at else "0"


class UrlBuilder:
    """Absolute media URLs of one clip for one viewer: edge chosen, token added when needed."""

    def __init__(self, settings: Settings, clip: Clip, *, viewer_id: int | None, region: str | None) -> None:
        edges = EdgeDirectory.from_settings(settings).region(region)
        self.base = edges.pick(clip.id) if edges else settings.base_url.rstrip("/")
        self.signed = clip.visibility != Visibility.public.value
        if clip.visibility == Visibility.private.value and viewer_id != clip.owner_id:
            raise NotFound(f"no clip {clip.id}")
        self.expires = int(time.time()) + settings.media_url_ttl_s if self.signed else None
        prefix = self.base + "/media/"
        if self.expires is not None:
            prefix += Signer.from_settings(settings).token(clip_scope(clip.id), self.expires) + "/"
        self.prefix = prefix
        self.version = image_version(clip)

    def url(self, key: str, *, image: bool = False) -> str:
        # Images carry a version so an edited cover gets a new URL (lazy invalidation).
        return self.prefix + key + (f"?v={self.version}" if image else "")


def _servable(clip: Clip, key: object) -> bool:
    return isinstance(key, str) and key.startswith(f"clips/{clip.id}/") and media_type(key) is not None


def _images(media: dict[str, Any]) -> dict[str, Any]:
    found = media.get("images")
    return found if isinstance(found, dict) else {}


def pointer(clip: Clip, role: str) -> str | None:
    media = clip.media or {}
    images = _images(media)
    names, files = ROLES[role]
    for key in [*(media.get(n) for n in names), *(images.get(f) for f in files)]:
        if _servable(clip, key):
            return str(key)
    return None


def servable_pointers(clip: Clip) -> dict[str, str]:
    """Every servable object the clip row points at: top-level names and image file names."""
    media = clip.media or {}
    images = _images(media)
    found = {name: key for name, key in media.items() if _servable(clip, key)}
    found.update({name: key for name, key in images.items() if _servable(clip, key) and name not in found})
    return found


def remote_media(clip: Clip) -> dict[str, str] | None:
    """A clip of another server (federation) plays from its origin, at the URLs its ``Video``
    named (``media["remote"]``: role -> URL); None for our own clips."""
    found = (clip.media or {}).get("remote")
    if not isinstance(found, dict):
        return None
    return {role: url for role, url in found.items()
            if role in ROLES and isinstance(url, str) and url.startswith(("https://", "http://"))}


def url_builder(settings: Settings, *, viewer_id: int | None,
                region: str | None = None) -> Callable[[Clip], dict[str, str]]:
    """For ``clips.service.public_view(url_for=…)``: every servable media pointer as a URL."""

    def urls(clip: Clip) -> dict[str, str]:
        remote = remote_media(clip)
        if remote is not None:
            return remote
        try:
            builder = UrlBuilder(settings, clip, viewer_id=viewer_id, region=region)
        except NotFound:
            return {}
        out = {}
        for name, key in servable_pointers(clip).items():
            out[name] = builder.url(key, image=media_type(key).kind.value == "image")  # type: ignore[union-attr]
        return out

    return urls


async def playback_info(*, services: Services, clip: Clip, viewer_id: int | None, region: str | None,
                        network: str | None) -> PlaybackInfo:
    """Everything a player needs to start ``clip`` at once (raises ``NotFound`` when the viewer
    may not watch it). The layout of the ladder comes from the cache after the first call."""
    visible = clip.status == ClipStatus.ready.value and (
        clip.visibility != Visibility.private.value or viewer_id == clip.owner_id)
    if not visible:
        raise NotFound(f"no clip {clip.id}")
    remote = remote_media(clip)
    if remote is not None:
        parts = urlsplit(remote.get("hls") or remote.get("mp4") or "")
        return PlaybackInfo(clip_id=str(clip.id), media_base_url=f"{parts.scheme}://{parts.netloc}",
                            hls_url=remote.get("hls"), mp4_url=remote.get("mp4"),
                            poster_url=remote.get("poster"), poster_jpeg_url=remote.get("poster_jpg"),
                            prefetch_urls=[url for url in (remote.get("poster"),) if url])
    build = UrlBuilder(services.settings, clip, viewer_id=viewer_id, region=region)
    urls: dict[str, str | None] = {}
    for role in ROLES:
        key = pointer(clip, role)
        urls[role] = build.url(key, image=role in IMAGE_ROLES) if key else None
    hls_key = pointer(clip, "hls")
    layout = await clip_layout(services=services, clip_id=clip.id, master_key=hls_key) if hls_key else Layout()
    start = layout.start_for(start_height(network))
    prefetch = [url for url in (urls["poster"],) if url]
    for track in (start, layout.audio):
        if track is not None:
            prefetch += [build.url(track.playlist), *([build.url(track.init)] if track.init else []),
                         *(build.url(key) for key in track.segments[:1])]
    return PlaybackInfo(
        clip_id=str(clip.id), media_base_url=build.base, hls_url=urls["hls"], dash_url=urls["dash"],
        mp4_url=urls["mp4"], poster_url=urls["poster"], poster_jpeg_url=urls["poster_jpg"],
        sprite_vtt_url=urls["sprite_vtt"], preview_url=urls["preview"],
        start_rendition=start.name if start else None,
        start_playlist_url=build.url(start.playlist) if start else None, prefetch_urls=prefetch,
        renditions=[Rendition(name=r.name, height=r.height, bandwidth=r.bandwidth) for r in layout.renditions],
        signed=build.signed,
        expires_at=datetime.fromtimestamp(build.expires, UTC) if build.expires else None)


def media_dict(info: PlaybackInfo) -> dict[str, Any]:
    """The ``media`` map of a clip response, from its playback info."""
    names = {"hls": info.hls_url, "dash": info.dash_url, "mp4": info.mp4_url, "poster": info.poster_url,
             "poster_jpg": info.poster_jpeg_url, "sprite_vtt": info.sprite_vtt_url, "preview": info.preview_url}
    return {name: url for name, url in names.items() if url}


async def clip_media(*, services: Services, clip: Clip, viewer_id: int | None,
                     region: str | None = None) -> dict[str, str]:
    """The ``media`` map of ``GET /v1/clips/{id}``: every servable pointer as an edge URL, plus
    the playback hints (``start_playlist``) when the clip is playable."""
    media = url_builder(services.settings, viewer_id=viewer_id, region=region)(clip)
    if clip.status == ClipStatus.ready.value and media:
        info = await playback_info(services=services, clip=clip, viewer_id=viewer_id, region=region, network=None)
        media.update({name: url for name, url in media_dict(info).items() if name not in media})
        if info.start_playlist_url:
            media["start_playlist"] = info.start_playlist_url
    return media
