"""Remote clips' media, streamed from their origin or cached here.

A remote clip is stored ready at once and plays from its origin (``media["remote"]``). When
the instance (``federation_remote_media``) or the clip's server (its own ``media`` setting, which
wins) says ``cache``, storing the clip also queues a media job (``media.uploaded`` with
``source_url``, in the same transaction as the clip row). A media worker fetches the origin's
MP4 (``fetch``), keeps it as the clip's master, and runs the same pipeline as an upload: the
ladder, posters, screening and metadata. Its result replaces the origin's URLs with our own
objects (``media["origin"]`` keeps the URLs), so the clip is served by our edges with our signed
URLs, and local screening applies: a clip it holds or rejects leaves the feeds as an upload would.

The clip keeps playing from its origin until then, and for good when the file cannot be used
(refused address, 4xx, too large, not a video): caching is an improvement, never a condition.
A worker that dies mid-fetch leaves its lease to expire and the job is run again from the start;
one that dies after keeping the master starts from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import httpx
import sqlalchemy as sa

from clipfeed.federation.models import MediaMode, RemoteInstance
from clipfeed.federation.transport import RefusedUrl, RemoteError, checked_url, client

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream")
MAX_REDIRECTS = 3


class Unfetchable(Exception):
    """The origin's file cannot be cached, now or later: the clip keeps streaming from it."""


async def mode_for(server: str, *, services: Services) -> MediaMode:
    """The server's own setting, else the instance's."""
    async with services.db.session() as session:
        own = await session.scalar(sa.select(RemoteInstance.media).where(RemoteInstance.domain == server))
    return MediaMode(own or services.settings.federation_remote_media)


async def set_mode(server: str, mode: MediaMode | None, *, services: Services) -> None:
    """A server's own media setting (None: the instance's). Clips already cached stay cached;
    the setting decides for clips stored (or whose file changes) from now on."""
    async with services.db.session() as session:
        row = await session.get(RemoteInstance, server, with_for_update=True)
        if row is None:
            session.add(RemoteInstance(domain=server, media=mode.value if mode else None))
        else:
            row.media = mode.value if mode else None


async def source_for(server: str, media: dict[str, str], *, services: Services) -> str | None:
    """The file to cache for a remote clip of ``server`` with these URLs, or None to stream:
    only a progressive MP4 is fetched (an HLS-only clip keeps streaming)."""
    if "mp4" not in media or await mode_for(server, services=services) != MediaMode.cache:
        return None
    return media["mp4"]


async def fetch(url: str, target: Path, *, services: Services) -> int:
    """Download ``url`` to ``target``; its size. ``Unfetchable`` when it never will be (the
    address is refused, the origin answers 4xx, the file is too large or not a video);
    ``RemoteError`` when a retry may do better (network, 5xx). Redirects (object storage, a
    CDN) are followed, at most ``MAX_REDIRECTS``, each address checked as the first was."""
    for _ in range(MAX_REDIRECTS + 1):
        try:
            url = await checked_url(url, services=services)
        except RefusedUrl as exc:
            raise Unfetchable(str(exc)) from exc
        try:
            async with client(services=services).stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                return await _save(url, response, target, limit=services.settings.upload_max_bytes)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot fetch {url[:200]}: {type(exc).__name__}") from exc
    raise Unfetchable(f"more than {MAX_REDIRECTS} redirects from {url[:200]}")


async def _save(url: str, response: httpx.Response, target: Path, *, limit: int) -> int:
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise Unfetchable(f"{url[:200]} answered {response.status_code}")
    if response.status_code != 200:
        raise RemoteError(f"{url[:200]} answered {response.status_code}")
    kind = response.headers.get("content-type", "").lower()
    if kind and not kind.startswith(VIDEO_TYPES):
        raise Unfetchable(f"{url[:200]} is {kind[:60]}, not a video")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Unfetchable(f"{url[:200]} is {int(declared)} bytes, more than {limit}")
    size = 0
    with target.open("wb") as out:
        async for chunk in response.aiter_bytes(1 << 20):
            size += len(chunk)
            if size > limit:
                raise Unfetchable(f"{url[:200]} sent more than {limit} bytes")
            out.write(chunk)
    return size
