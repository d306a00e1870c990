"""Prometheus metrics of uploads (exported by ``GET /metrics`` with the others)."""

from __future__ import annotations

from prometheus_client import Counter

UPLOAD_BYTES = Counter("clipfeed_upload_bytes_total", "Bytes of upload chunks made durable")
UPLOADS = Counter("clipfeed_uploads_total", "Uploads that reached an outcome", ["outcome"])
