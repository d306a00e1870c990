"""Where a media job is, kept in the object store next to the clip so any worker that picks
the job up again (after a crash, on another machine) resumes from the last finished stage.

``clips/{id}/work/state.json`` holds the job's event ID and its finished stages' results; the
job's scratch objects (chunk encodes) live under ``clips/{id}/work/{job}/``. Outputs go to
their final keys; a job that starts encoding again first deletes every output prefix, so a
killed attempt's partial objects are overwritten or removed, never left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from clipfeed.infra.blobs import BlobNotFound, BlobStore

# Everything the pipeline writes for a clip (raw/ holds the masters and is never touched).
OUTPUT_FOLDERS = ("v/", "a/", "hls/", "dash/", "mp4/", "img/")


def work_prefix(clip_id: int) -> str:
    return f"clips/{clip_id}/work/"


@dataclass
class JobState:
    job: int
    stages: dict[str, Any] = field(default_factory=dict)  # finished stage -> its result

    def done(self, stage: str) -> bool:
        return stage in self.stages


async def _raw(blobs: BlobStore, clip_id: int) -> dict[str, Any]:
    try:
        raw = orjson.loads(await blobs.get(work_prefix(clip_id) + "state.json"))
    except (BlobNotFound, orjson.JSONDecodeError):
        return {}
    return raw if isinstance(raw, dict) else {}


async def load(blobs: BlobStore, clip_id: int, job: int) -> JobState:
    """The saved state of ``job``, or a fresh one (another job's state is ignored)."""
    raw = await _raw(blobs, clip_id)
    if raw.get("job") != job:
        return JobState(job)
    return JobState(job, dict(raw.get("stages") or {}))


async def current_job(blobs: BlobStore, clip_id: int) -> int | None:
    """The job working on the clip now (None once it ended)."""
    job = (await _raw(blobs, clip_id)).get("job")
    return job if isinstance(job, int) else None


async def save(blobs: BlobStore, clip_id: int, state: JobState) -> None:
    await blobs.put(work_prefix(clip_id) + "state.json",
                    orjson.dumps({"job": state.job, "stages": state.stages}), content_type="application/json")


async def clear_outputs(blobs: BlobStore, clip_id: int) -> int:
    """Remove every output of the clip (before an encode starts, or when it is rejected)."""
    removed = 0
    for folder in OUTPUT_FOLDERS:
        removed += await blobs.delete_prefix(f"clips/{clip_id}/{folder}")
    return removed


async def clear_other_jobs(blobs: BlobStore, clip_id: int, job: int) -> None:
    """Scratch objects of earlier jobs of this clip (a re-edit replaced them)."""
    prefix = work_prefix(clip_id)
    stale = [info.key async for info in blobs.list(prefix)
             if not info.key.startswith(f"{prefix}{job}/") and info.key != prefix + "state.json"]
    for key in stale:
        await blobs.delete(key)


async def clear_work(blobs: BlobStore, clip_id: int) -> None:
    await blobs.delete_prefix(work_prefix(clip_id))
