"""What a media object is, its content type, and how long browsers and edges may keep it.

One table decides every ``Cache-Control`` the origin sends (docs/design/delivery.md, "TTL policy").
``max-age`` is for browsers, ``s-maxage`` for the edges (nginx honours it over ``max-age``),
``stale-while-revalidate`` lets an edge answer from a just-expired copy while it refetches.

| kind | objects | browser | edge | why |
|---|---|---|---|---|
| segment | ``v/*/seg_*.m4s``, ``v/*/init.mp4`` | 1 year, immutable | 1 year | a key's bytes never change |
| fallback | ``mp4/fallback.mp4`` | 1 day | 30 days | large; purged when re-transcoded |
| playlist | ``*.m3u8``, ``*.mpd`` | 10 s | 10 min, swr 60 s | rewritten only with a purge |
| image, clip < 1 day old | ``img/*`` (posters, sprite, vtt) | 5 min | 10 min | covers change soon after posting |
| image, popular clip | ``img/*`` | 1 h | 1 day, swr 1 h | many viewers, rarely edited |
| image, other | ``img/*`` | 1 h | 7 days, swr 1 h | cover edits get a new ``?v=`` URL |
| error (404/410) | any | 5 s | 10 s | absorbs storms of misses briefly |

Responses of private clips (signed for their owner) are ``private``: no edge stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

YEAR = 365 * 86400


class Kind(StrEnum):
    segment = "segment"
    fallback = "fallback"
    playlist = "playlist"
    image = "image"


# Extension -> (content type, kind). Anything else under a clip is never served.
_TYPES: dict[str, tuple[str, Kind]] = {
    "m3u8": ("application/vnd.apple.mpegurl", Kind.playlist),
    "mpd": ("application/dash+xml", Kind.playlist),
    "m4s": ("video/iso.segment", Kind.segment),
    "m4a": ("audio/mp4", Kind.segment),
    "m4v": ("video/mp4", Kind.segment),
    "ts": ("video/mp2t", Kind.segment),
    "mp4": ("video/mp4", Kind.segment),
    "vtt": ("text/vtt; charset=utf-8", Kind.image),
    "webp": ("image/webp", Kind.image),
    "jpg": ("image/jpeg", Kind.image),
    "jpeg": ("image/jpeg", Kind.image),
    "png": ("image/png", Kind.image),
}
CONTENT_TYPES = sorted({content_type.split(";")[0] for content_type, _ in _TYPES.values()})


@dataclass(frozen=True)
class MediaType:
    content_type: str
    kind: Kind


def media_type(key: str) -> MediaType | None:
    """The type of a servable object under ``clips/{id}/``, None for what is never served
    (raw masters, unknown extensions)."""
    parts = key.split("/")
    if len(parts) < 3 or parts[2] == "raw":
        return None
    extension = parts[-1].rpartition(".")[2].lower()
    found = _TYPES.get(extension)
    if found is None:
        return None
    content_type, kind = found
    if kind is Kind.segment and parts[2] == "mp4":
        kind = Kind.fallback  # the progressive fallback, not a CMAF segment
    if kind is Kind.segment and parts[2] == "img":
        kind = Kind.image  # the short muted preview loop
    return MediaType(content_type, kind)


@dataclass(frozen=True)
class Lifetime:
    browser_s: int
    edge_s: int
    stale_s: int = 0
    immutable: bool = False


POLICY: dict[str, Lifetime] = {
    "segment": Lifetime(YEAR, YEAR, immutable=True),
    "fallback": Lifetime(86400, 30 * 86400),
    # Our playlists change only when the lifecycle rewrites them (cold tier) or renditions are
    # re-created, and both purge the edges; the edge lifetime is a safety net, the browser's short.
    "playlist": Lifetime(10, 600, stale_s=60),
    "image.new": Lifetime(300, 600),
    "image.popular": Lifetime(3600, 86400, stale_s=3600),
    "image.other": Lifetime(3600, 7 * 86400, stale_s=3600),
    "error": Lifetime(5, 10),
}
NEW_CLIP = timedelta(days=1)


def lifetime(kind: Kind, *, published_at: datetime | None, popular: bool, now: datetime) -> Lifetime:
    if kind is not Kind.image:
        return POLICY[kind.value]
    if published_at is None or now - published_at < NEW_CLIP:
        return POLICY["image.new"]
    return POLICY["image.popular" if popular else "image.other"]


def cache_control(life: Lifetime, *, private: bool = False) -> str:
    if private:
        return f"private, max-age={min(life.browser_s, 300)}"
    parts = ["public", f"max-age={life.browser_s}", f"s-maxage={life.edge_s}"]
    if life.stale_s:
        parts.append(f"stale-while-revalidate={life.stale_s}")
    if life.immutable:
        parts.append("immutable")
    return ", ".join(parts)


ERROR_CACHE_CONTROL = cache_control(POLICY["error"])
