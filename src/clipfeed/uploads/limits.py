"""``GET /v1/upload-limits``: what an upload must respect, for clients to check before sending
(a recorder stops at the longest duration; a picker refuses a file too large or too short), and
the ladder's top rendition, so that a client re-encoding a large file before upload never sends
more picture than the server will keep.

``POST /v1/upload-probe`` times the uplink: a client sends a few hundred kilobytes and divides
by the time it took, to judge whether compressing first would finish sooner than sending the
file as it is."""

from __future__ import annotations

from fractions import Fraction

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from clipfeed.core.errors import PayloadTooLarge
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.instance import service as instance
from clipfeed.media import ladder

router = APIRouter(tags=["uploads"])

PROBE_MAX_BYTES = 1024 * 1024  # the body limit of every route but the uploads (http/middleware.py)


class TopRendition(BaseModel):
    """The largest picture the ladder makes: a source beyond it is scaled down on the server."""

    short_side: int = Field(description="pixels on the short side of the picture")
    max_fps: int = Field(description="highest frame rate kept; faster sources are slowed to it")
    bitrate_kbps: int = Field(description="the rendition's bitrate cap up to 30 fps")
    high_fps_bitrate_kbps: int = Field(description="the cap above 30 fps")


class UploadLimits(BaseModel):
    max_bytes: int = Field(description="largest file accepted (tus Upload-Length)")
    max_chunk_bytes: int = Field(description="largest body of one PATCH request")
    min_duration_s: float
    max_duration_s: float
    min_dimension: int = Field(description="shortest side of the picture, in pixels")
    max_dimension: int = Field(description="longest side of the picture, in pixels")
    containers: list[str]
    video_codecs: list[str] = Field(description="video codecs accepted (FFmpeg names)")
    audio_codecs: list[str] = Field(description="audio codecs accepted (FFmpeg names)")
    top_rendition: TopRendition


class UploadProbe(BaseModel):
    bytes: int = Field(description="bytes received")


def top_rendition() -> TopRendition:
    top = ladder.PROFILES[0]
    return TopRendition(short_side=top.short_side, max_fps=ladder.MAX_FPS, bitrate_kbps=top.maxrate(Fraction(30)),
                        high_fps_bitrate_kbps=top.maxrate(Fraction(ladder.MAX_FPS)))


@router.get("/upload-limits", response_model=UploadLimits)
async def upload_limits(services: Deps) -> UploadLimits:
    """Public (no account needed): the instance's upload limits (with admins' overrides)."""
    s = await instance.effective(services=services)
    return UploadLimits(max_bytes=s.upload_max_bytes, max_chunk_bytes=s.upload_max_chunk_bytes,
                        min_duration_s=s.upload_min_duration_s, max_duration_s=s.upload_max_duration_s,
                        min_dimension=s.upload_min_dimension, max_dimension=s.upload_max_dimension,
                        containers=list(s.upload_containers), video_codecs=list(s.upload_video_codecs),
                        audio_codecs=list(s.upload_audio_codecs), top_rendition=top_rendition())


@router.post("/upload-probe", response_model=UploadProbe)
async def upload_probe(request: Request, user: CurrentUser) -> UploadProbe:
    """Signed-in users only: reads and discards the body (at most 1 MiB) and says how much came."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > PROBE_MAX_BYTES:
            raise PayloadTooLarge(f"a probe is at most {PROBE_MAX_BYTES} bytes")
    return UploadProbe(bytes=received)
