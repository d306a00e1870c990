"""HTTP mechanics of serving one blob: Range, conditional requests and the response itself.

Local blobs go out through Starlette's ``FileResponse`` (which hands the file to the server's
zero-copy path when the ASGI server offers one); S3 blobs are streamed in chunks as they
arrive. Both get the same headers, the same single-range support, and the same answer to a
request for several ranges: the whole object with 200, which RFC 9110 allows and which every
player handles (none of them asks for several ranges).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from clipfeed.infra.blobs import BlobInfo, BlobStore

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, ETag, Age, X-Cache-Status",
    "Timing-Allow-Origin": "*",
}
UNSATISFIABLE = "unsatisfiable"


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(first, last)`` inclusive for one satisfiable range, ``UNSATISFIABLE``, or None when
    the whole object should be sent (no header, several ranges, or a header we ignore)."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first_text:  # suffix: the last N bytes
            count = int(last_text)
            if count <= 0 or size == 0:
                return UNSATISFIABLE
            return max(0, size - count), size - 1
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    except ValueError:
        return None
    if first >= size >= 0 and (not last_text or last >= first):
        return UNSATISFIABLE
    if first < 0 or last < first:
        return None
    return first, min(last, size - 1)


def quoted(etag: str) -> str:
    return etag if etag.startswith(('"', 'W/"')) else f'"{etag}"'


def not_modified(headers: Any, etag: str, info: BlobInfo) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    match = headers.get("if-none-match")
    if match is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in wanted or etag.removeprefix("W/") in wanted
    since = headers.get("if-modified-since")
    if since:
        try:
            return int(info.modified.timestamp()) <= int(parsedate_to_datetime(since).timestamp())
        except (TypeError, ValueError, OverflowError):
            return False
    return False


def range_applies(headers: Any, etag: str, last_modified: str) -> bool:
    """If-Range: the range holds only while the object is the one the client has."""
    condition = headers.get("if-range")
    return condition is None or condition in (etag, last_modified)


class _LocalBlobResponse(FileResponse):
    """FileResponse with the range decision already taken by us (so both backends agree)."""

    def __init__(self, path: Path, *, span: tuple[int, int] | None, headers: dict[str, str],
                 media_type: str) -> None:
        super().__init__(path, headers=headers, media_type=media_type)
        self.span = span

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kept = [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]
        if self.span is not None:
            kept.append((b"range", f"bytes={self.span[0]}-{self.span[1]}".encode()))
        await super().__call__({**scope, "headers": kept}, receive, send)


def blob_response(*, store: BlobStore, info: BlobInfo, request_headers: Any, method: str,
                  content_type: str, cache_control: str) -> Response:
    etag = quoted(info.etag)
    last_modified = format_datetime(info.modified.astimezone(UTC), usegmt=True)
    headers = {"ETag": etag, "Last-Modified": last_modified, "Cache-Control": cache_control,
               "Accept-Ranges": "bytes", **CORS_HEADERS}
    if not_modified(request_headers, etag, info):
        return Response(status_code=304, headers=headers)
    span = byte_range(request_headers.get("range"), info.size)
    if span is not None and not range_applies(request_headers, etag, last_modified):
        span = None
    if span == UNSATISFIABLE:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{info.size}"})
    chosen = span if isinstance(span, tuple) else None
    path = store.local_path(info.key)
    if path is not None:
        return _LocalBlobResponse(path, span=chosen, headers=headers, media_type=content_type)
    first, last = chosen if chosen else (0, info.size - 1)
    headers["Content-Length"] = str(max(0, last - first + 1))
    if chosen:
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    body: AsyncIterator[bytes] | list[bytes]
    body = [] if method == "HEAD" or info.size == 0 else store.open_read(info.key, start=first, end=last)
    return StreamingResponse(body, status_code=206 if chosen else 200, headers=headers,
                             media_type=content_type)
