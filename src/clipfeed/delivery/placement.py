"""Regional placement: warm each region's edges with what its viewers will ask for next.

Every ``placement_interval_s`` the job takes each region's trending clips (the stream worker's
per-region scores) and requests through the clip's home edge in that region (the one the
consistent-hash ring gives it, where viewers are sent) the master playlist, every media
playlist (the separate audio track's included), each one's init segment and first
``placement_segments`` segments, and the poster. The edge caches what it fetches, so the
first viewer there starts from a warm cache. Only public clips are warmed (trending lists
nothing else). A clip warmed on an edge is not warmed there again for an hour
(``WARM_MEMORY_S``), the shortest edge lifetime of its objects being far longer.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import structlog

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus, Visibility
from clipfeed.delivery import popularity
from clipfeed.delivery.edge_routing import EdgeDirectory
from clipfeed.delivery.playback import image_version, pointer
from clipfeed.storage.layout import clip_layout

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
WARM_MEMORY_S = 3600.0
CONCURRENCY = 8


@dataclass
class WarmReport:
    clips: int = 0
    requests: int = 0
    failures: int = 0


async def warm_keys(*, services: Services, clip_id: int) -> list[str]:
    """The objects of a clip worth having at an edge before anyone asks (paths under /media/)."""
    clip = (await clips_service.get_many(db=services.db, clip_ids=[clip_id])).get(clip_id)
    if clip is None or clip.status != ClipStatus.ready.value or clip.visibility != Visibility.public.value:
        return []
    poster = pointer(clip, "poster")
    # Images are asked for with their version, exactly as playback info hands them out.
    keys = [key for key in (pointer(clip, "hls"), poster and f"{poster}?v={image_version(clip)}") if key]
    hls = pointer(clip, "hls")
    if hls:
        layout = await clip_layout(services=services, clip_id=clip_id, master_key=hls)
        # The sound track too, when it is separate: a player needs its playlist, init segment
        # and first segments before it starts, as much as the video's.
        for rendition in [*layout.renditions, *([layout.audio] if layout.audio else [])]:
            keys.append(rendition.playlist)
            keys += [rendition.init] if rendition.init else []
            keys += rendition.segments[:services.settings.placement_segments]
    return keys


async def place_region(*, services: Services, region: str, client: httpx.AsyncClient) -> WarmReport:
    report = WarmReport()
    edges = EdgeDirectory.from_settings(services.settings).region(region)
    if edges is None:
        return report
    top = await popularity.top_clip_ids(services=services, region=region,
                                        limit=services.settings.placement_top_clips)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def fetch(url: str) -> bool:
        async with gate:
            try:
                async with client.stream("GET", url) as response:
                    async for _ in response.aiter_raw():
                        pass
                return response.status_code in (200, 206, 304)
            except httpx.HTTPError:
                return False

    for clip_id in top:
        edge = edges.owner(clip_id)
        memo = f"delivery:warm:{edge}:{clip_id}"
        if not await services.cache.add(memo, b"1", ttl=WARM_MEMORY_S):
            continue
        keys = await warm_keys(services=services, clip_id=clip_id)
        results = await asyncio.gather(*(fetch(f"{edge}/media/{key}") for key in keys))
        report.clips += 1
        report.requests += len(results)
        report.failures += results.count(False)
        if results.count(False):
            await services.cache.delete(memo)  # try again next round
    return report


async def place_all(*, services: Services) -> dict[str, WarmReport]:
    directory = EdgeDirectory.from_settings(services.settings)
    async with httpx.AsyncClient(timeout=10.0) as client:
        return {region: await place_region(services=services, region=region, client=client)
                for region in directory.regions}


async def placement_loop(stop: asyncio.Event, *, services: Services) -> None:
    while not stop.is_set():
        if services.settings.edges:
            try:
                reports = await place_all(services=services)
                log.info("delivery.placement", **{r: vars(rep) for r, rep in reports.items()})
            except Exception as exc:
                log.warning("delivery.placement_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), services.settings.placement_interval_s)
