"""Re-creating the renditions a cold clip lost, once it is popular again (``media.retranscode``).

The cold tier keeps a clip's lowest H.264 rendition, its sound track, images, fallback MP4 and
manifests reduced to what is kept; the other renditions are deleted and listed in the storage
row's ``dropped``. When such a clip turns popular it moves back to hot and the storage
lifecycle publishes ``media.retranscode`` (key clip ID; payload ``clip_id``, ``renditions``,
``master_prefix``). ``RetranscodeProcessor`` (a work queue of the ``media`` role, consumer
group ``media-retranscode``) handles it:

1. What is missing: the clip's renditions (``clip.media["renditions"]``) that the hot master
   playlist does not list. No work at all (the event is acked) when the clip is not ready
   (deleted, rejected, held), its media is not in hot (it moved on; the lifecycle asks again
   when it is popular and hot), or nothing is missing and the row has nothing dropped: this is
   what makes a redelivered event free.
2. The raw master is read from whichever tier holds it, probed and planned with the clip's
   recorded edits by the pipeline's own code (``transcode.make_plan``), and only the missing
   rungs are encoded (``transcode.encode``, no sound track: the kept one stays). The ladder
   forces keyframes at the same instants for every rung, so the new segments line up with
   the kept rendition's and the sound's.
3. Their init segments, segments and media playlists go to the hot store, under the keys the
   pipeline uses.
4. The master playlist and the DASH MPD are rebuilt over every rendition by the packaging code
   (the kept renditions and the sound read back from the store), and written while the
   storage row is locked and still hot and not moving, in the transaction that removes the
   restored renditions from ``dropped``. A move that starts later sees nothing dropped and
   takes the renditions along; one that started earlier makes this job give up (its outputs
   are dropped-rendition keys outside home, which the storage repair deletes).
5. The ladder layout cache is cleared and the edges are asked to purge the clip's manifests
   and the restored rendition folders (urgency ``soon``).

Killed half-way: before step 4 commits, the manifests still list only the kept renditions, so
players never see a partial rendition; the redelivered job (after the lease) finds the same
renditions missing from the master and encodes them again over the same keys. Killed after
the manifests are written but before the commit, the redelivery finds nothing missing and only
commits the row and purges. Killed between the commit and the purge, edges may serve the
reduced manifests until their playlist TTL (10 min) ends; nothing is lost or wrong. A
lifecycle run that sees the renditions' objects appear and clears ``dropped`` itself
(``renditions_back``) cannot cause a skipped job either, since step 1 looks at the master.

Long clips are encoded in one FFmpeg process here (not in chunks): a re-transcode is a
background job with a heartbeat-renewed lease, not a creator waiting on an upload.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import structlog

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipStatus
from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.delivery import purge as delivery_purge
from clipfeed.delivery.models import Urgency
from clipfeed.infra.blobs import BlobNotFound, BlobStore
from clipfeed.infra.log import Record
from clipfeed.media import edits as edit_lists
from clipfeed.media import ladder, packaging, transcode
from clipfeed.media import probe as prober
from clipfeed.media.job import LongJobProcessor
from clipfeed.media.ladder import Rendition
from clipfeed.media.packaging import Track
from clipfeed.media.worker import clip_lock
from clipfeed.runtime.services import Services
from clipfeed.storage import service as storage
from clipfeed.storage.layout import forget_layout, parse_master
from clipfeed.storage.models import Part, StoredPart, Tier

log = structlog.get_logger(__name__)
UPLOADS_AT_ONCE = 8


class RetranscodeProcessor(LongJobProcessor):
    """One re-transcode at a time per worker; lease and heartbeat as for media jobs; a payload
    that cannot be read is retried with backoff and then dead-lettered (``dlq.media-retranscode``)."""

    group: ClassVar[str] = "media-retranscode"
    topics: ClassVar[list[str]] = [contract.Topic.MEDIA_RETRANSCODE]

    async def handle_one(self, record: Record) -> None:
        clip_id = clip_of(Event.decode(record.value))
        async with clip_lock(self, clip_id):  # not while a (re-)edit job works on the clip
            outcome = await restore(clip_id, services=self.services)
        log.info("media.retranscode_done", clip_id=clip_id, outcome=outcome, delivery=record.delivery_count)


def clip_of(event: Event) -> int:
    """The clip an event is about; ``ValueError`` for a payload no retry can fix."""
    clip_id = contract.MEDIA_RETRANSCODE.parse(event).clip_id
    if str(clip_id) != event.key:
        raise ValueError(f"key {event.key!r} and payload clip {clip_id} differ")
    return clip_id


async def restore(clip_id: int, *, services: Services) -> str:
    """Re-create whatever the clip's hot manifests lack; returns what happened."""
    clip = (await clips_service.get_many(db=services.db, clip_ids=[clip_id])).get(clip_id)
    if clip is None or clip.status != ClipStatus.ready.value:
        return "not ready"
    row = (await storage.parts_of(services=services, clip_id=clip_id)).get(Part.media)
    if row is not None and (row.tier != Tier.hot.value or row.moving_to is not None):
        return "not hot"
    media = clip.media or {}
    base = f"clips/{clip_id}/"
    try:
        listed = _listed(await services.blobs.get(base + "hls/master.m3u8"), base + "hls/master.m3u8")
    except BlobNotFound:
        return "no manifest"
    missing = [name for name in media.get("renditions") or {} if name not in listed]
    if not missing:
        if row is None or not row.dropped:
            return "nothing dropped"
        return await _commit(clip_id, listed, manifests=None, fresh=set(), written=(0, 0), services=services)
    workdir = Path(services.settings.resolve(services.settings.media_work_dir)) / f"retranscode-{clip_id}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        return await _recreate(clip, listed, missing, workdir, services=services)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _listed(master: bytes, key: str) -> set[str]:
    renditions, _audio = parse_master(master.decode("utf-8", "replace"), key)
    return {r.name for r in renditions}


async def _recreate(clip: Clip, listed: set[str], missing: list[str], workdir: Path, *, services: Services) -> str:
    media: dict[str, Any] = clip.media or {}
    master_key = media.get("master")
    if not isinstance(master_key, str):
        raise ValueError(f"clip {clip.id} has no recorded master")
    source = workdir / ("master" + Path(master_key).suffix)
    found = await storage.locate(services=services, clip_id=clip.id, key=master_key)
    await found.store.download(master_key, source)
    plan = transcode.make_plan(await prober.probe(source), source, edit_lists.parse(media.get("edits")),
                               extra_codecs=tuple(ladder.EXTRA_PROFILES))
    known = {r.name: r for r in plan.rungs}
    if unknown := sorted(listed - known.keys()):
        raise ValueError(f"the ladder no longer makes the listed renditions {unknown}")
    lost = [name for name in missing if name not in known]
    if lost:  # the ladder table changed since: they cannot come back, manifests leave them out
        log.warning("media.retranscode_unknown", clip_id=clip.id, renditions=lost)
    rungs = tuple(r for r in plan.rungs if r.name in missing)
    outdir = workdir / "out"
    written = (0, 0)
    if rungs:
        # Video only: the sound track (and its loudness gain) is kept from the first encode.
        await transcode.encode(replace(plan, rungs=rungs, source_audio=False, background=None), outdir, workdir)
        written = await _upload(services.blobs, f"clips/{clip.id}/",
                                [packaging.read_track(outdir / r.name, r) for r in rungs])
    every = [r for r in plan.rungs if r.name in listed or r in rungs]
    manifests = await _manifests(services.blobs, f"clips/{clip.id}/", every, outdir, plan,
                                 has_audio=bool(media.get("audio")))
    fresh = {r.name for r in rungs}
    return await _commit(clip.id, listed | fresh, manifests=manifests, fresh=fresh, written=written, services=services)


async def _upload(blobs: BlobStore, prefix: str, tracks: list[Track]) -> tuple[int, int]:
    """Init segments and segments first, then each media playlist; (objects, bytes) written."""
    gate = asyncio.Semaphore(UPLOADS_AT_ONCE)
    sizes: list[int] = []

    async def put(key: str, path: Path) -> None:
        async with gate:
            info = await blobs.put_file(key, path, content_type=packaging.CONTENT_TYPES.get(path.suffix))
        sizes.append(info.size)

    for track in tracks:
        if track.init is None or not track.ended or not track.segments:
            raise RuntimeError(f"the encode of {track.folder} did not finish")
        await asyncio.gather(put(f"{prefix}{track.folder}/init.mp4", track.init),
                             *(put(f"{prefix}{track.folder}/{s.name}", track.local / s.name) for s in track.segments))
        playlist = packaging.media_playlist(track, ended=True).encode()
        await blobs.put(f"{prefix}{track.folder}/index.m3u8", playlist, content_type=packaging.CONTENT_TYPES[".m3u8"])
        sizes.append(len(playlist))
    return len(sizes), sum(sizes)


async def _fetch_track(blobs: BlobStore, prefix: str, folder: str, local: Path,
                       rendition: Rendition | None) -> Track:
    """A stored rendition (or the sound) copied back to a local folder, as ``read_track`` reads it."""
    if not local.exists():
        local.mkdir(parents=True)
        async for info in blobs.list(f"{prefix}{folder}/"):
            await blobs.download(info.key, local / info.key.rsplit("/", 1)[1])
    track = packaging.read_track(local, rendition)
    if track.init is None or not track.segments:
        raise RuntimeError(f"{prefix}{folder} is incomplete in the hot tier")
    return track


async def _manifests(blobs: BlobStore, prefix: str, every: list[Rendition], outdir: Path,
                     plan: transcode.Plan, *, has_audio: bool) -> dict[str, bytes]:
    """The master playlist and MPD over ``every`` rendition, as the pipeline writes them."""
    videos = [await _fetch_track(blobs, prefix, packaging.folder_for(r.name), outdir / r.name, r) for r in every]
    audio = (await _fetch_track(blobs, prefix, packaging.folder_for(packaging.AUDIO_DIR),
                                outdir / packaging.AUDIO_DIR, None) if has_audio else None)
    return {"hls/master.m3u8": packaging.master_playlist(videos, audio, plan.fps).encode(),
            "dash/manifest.mpd": packaging.dash_manifest(videos, audio, plan.fps, plan.duration).encode()}


async def _commit(clip_id: int, listed: set[str], *, services: Services, manifests: dict[str, bytes] | None,
                  fresh: set[str], written: tuple[int, int]) -> str:
    """Write the manifests (listing ``listed``) and forget those renditions were dropped, in one
    locked transaction of the storage row; then tell delivery. ``fresh``: encoded just now."""
    prefix = f"clips/{clip_id}/"
    async with services.db.session() as session:
        row = await session.get(StoredPart, (clip_id, Part.media.value), with_for_update=True)
        if row is not None and (row.tier != Tier.hot.value or row.moving_to is not None):
            log.info("media.retranscode_moved_meanwhile", clip_id=clip_id, tier=row.tier, moving_to=row.moving_to)
            return "moved meanwhile"
        for name, data in (manifests or {}).items():
            await services.blobs.put(prefix + name, data, content_type=packaging.CONTENT_TYPES[Path(name).suffix])
        restored = sorted(fresh | (set(row.dropped or []) & listed if row is not None else set()))
        if row is not None:
            row.dropped = [name for name in row.dropped or [] if name not in listed]
            row.dropped_bytes = row.dropped_bytes if row.dropped else 0
            row.objects, row.bytes = (row.objects or 0) + written[0], (row.bytes or 0) + written[1]
    await forget_layout(services=services, clip_id=clip_id)
    await delivery_purge.purge(services=services, urgency=Urgency.soon, reason="renditions re-created",
                               prefixes=[prefix + "hls/", prefix + "dash/", *(f"{prefix}v/{n}/" for n in restored)])
    log.info("media.renditions_restored", clip_id=clip_id, renditions=restored, objects=written[0])
    return "restored" if manifests is not None else "recorded"
