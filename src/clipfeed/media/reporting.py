"""Progress reports of a media job, in the format of ``clipfeed.media.progress`` (the clip's
status endpoint and its SSE stream read them): ``media.progress`` events keyed by clip ID and
the latest report in the cache at ``media:progress:{clip_id}``.

``percent`` is the whole job's: probing 0–5, transcoding 5–85 (from FFmpeg's ``-progress``
output time over the clip's duration), packaging 85–90, thumbnails 90–93, moderating 93–99.
Reports are best effort: a cache or log outage never fails the job.
"""

from __future__ import annotations

import time

import structlog

from clipfeed.media import progress as status_reports
from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
ENCODE_START, ENCODE_END = 5.0, 85.0
MIN_INTERVAL_S = 1.0


class Progress:
    def __init__(self, services: Services, clip_id: int) -> None:
        self.services = services
        self.clip_id = clip_id
        self.percent = 0.0
        self._sent_at = 0.0

    async def stage(self, stage: str, percent: float, *, status: str = "processing", message: str = "") -> None:
        self.percent = max(self.percent, percent) if status == "processing" else percent
        self._sent_at = time.monotonic()
        try:
            await status_reports.publish(clip_id=self.clip_id, stage=stage, percent=round(self.percent, 1),
                                         status=status, message=message, services=self.services)
        except Exception as exc:
            log.warning("media.progress_failed", clip_id=self.clip_id, error=str(exc))

    async def encoding(self, seconds: float, duration: float) -> None:
        """FFmpeg wrote ``seconds`` of ``duration``; reported at most once a second."""
        share = min(1.0, seconds / duration) if duration > 0 else 0.0
        if time.monotonic() - self._sent_at < MIN_INTERVAL_S and share < 1.0:
            return
        await self.stage("transcoding", ENCODE_START + (ENCODE_END - ENCODE_START) * share)

    async def preview(self, master_key: str) -> None:
        """The smallest rendition can be played already (the master lists only it for now)."""
        await self.stage("transcoding", self.percent, message=f"preview ready: {master_key}")
