"""``GET /v1/upload-limits``: what an upload must respect, for clients to check before sending
(a recorder stops at the longest duration; a picker refuses a file too large or too short)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from clipfeed.http.deps import Deps
from clipfeed.instance import service as instance

router = APIRouter(tags=["uploads"])


class UploadLimits(BaseModel):
    max_bytes: int = Field(description="largest file accepted (tus Upload-Length)")
    max_chunk_bytes: int = Field(description="largest body of one PATCH request")
    min_duration_s: float
    max_duration_s: float
    min_dimension: int = Field(description="shortest side of the picture, in pixels")
    max_dimension: int = Field(description="longest side of the picture, in pixels")
    containers: list[str]


@router.get("/upload-limits", response_model=UploadLimits)
async def upload_limits(services: Deps) -> UploadLimits:
    """Public (no account needed): the instance's upload limits (with admins' overrides)."""
    s = await instance.effective(services=services)
    return UploadLimits(max_bytes=s.upload_max_bytes, max_chunk_bytes=s.upload_max_chunk_bytes,
                        min_duration_s=s.upload_min_duration_s, max_duration_s=s.upload_max_duration_s,
                        min_dimension=s.upload_min_dimension, max_dimension=s.upload_max_dimension,
                        containers=list(s.upload_containers))
