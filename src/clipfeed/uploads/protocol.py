"""The tus 1.0.0 wire format: header names, parsing and formatting, tus-specific errors.

Nothing here touches storage or the database, so the parsing rules are easy to read in one place.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime
from email.utils import format_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from clipfeed.core.errors import BadRequest, ClipfeedError
from clipfeed.core.identifiers import id_or_none, parse_count

TUS_VERSION = "1.0.0"
EXTENSIONS = ("creation", "creation-with-upload", "creation-defer-length", "expiration", "checksum",
              "termination", "concatenation")
CHECKSUM_ALGORITHMS: dict[str, str] = {"sha1": "sha1", "md5": "md5", "sha256": "sha256"}
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
CLIP_ID_HEADER = "Clipfeed-Clip-Id"
STATE_HEADER = "Clipfeed-Upload-State"
REASON_HEADER = "Clipfeed-Upload-Reason"
# What browsers may read from our responses (CORS); tus-js-client needs every one of these.
EXPOSED_HEADERS = ["Location", "Upload-Offset", "Upload-Length", "Upload-Metadata",
                   "Upload-Defer-Length", "Upload-Concat", "Upload-Expires", "Tus-Resumable",
                   "Tus-Version", "Tus-Max-Size", "Tus-Extension", "Tus-Checksum-Algorithm",
                   CLIP_ID_HEADER, STATE_HEADER, REASON_HEADER]
_KEY = re.compile(r"^[A-Za-z0-9._~!$&'*+^`|-]{1,64}$")  # no spaces or commas, as tus requires
_UPLOAD_PATH = re.compile(r"/v1/uploads/([0-9]{1,19})/?$")
MAX_METADATA_HEADER = 32 * 1024


class ChecksumMismatch(ClipfeedError):
    status, code, title = 460, "checksum-mismatch", "Checksum mismatch"


class Locked(ClipfeedError):
    status, code, title = 423, "locked", "Upload in use"


class FinalUploadNotPatchable(ClipfeedError):
    status, code, title = 403, "forbidden", "Not allowed"


class TusHeaderMissing(ClipfeedError):
    status, code, title = 412, "precondition-failed", "Unsupported tus version"
    tus_headers: ClassVar[dict[str, str]] = {"Tus-Version": TUS_VERSION}

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers=dict(self.tus_headers))


def check_version(value: str | None) -> None:
    """Every request but OPTIONS must speak tus 1.0.0 (412 otherwise, naming what we speak)."""
    if value is None:
        raise TusHeaderMissing("send 'Tus-Resumable: 1.0.0' with every tus request")
    if value.strip() != TUS_VERSION:
        raise TusHeaderMissing(f"tus version {value.strip()!r} is not supported; use {TUS_VERSION}")


def parse_int_header(name: str, value: str | None, *, required: bool = False) -> int | None:
    if value is None:
        if required:
            raise BadRequest(f"the {name} header is required")
        return None
    value = value.strip()
    try:
        return parse_count(value)
    except ValueError:
        raise BadRequest(f"{name} must be a non-negative integer, not {value[:40]!r}") from None


def parse_metadata(header: str | None) -> dict[str, str | None]:
    """``Upload-Metadata: key base64,key2 base64,flag`` → {key: text or None}."""
    if not header or not header.strip():
        return {}
    if len(header) > MAX_METADATA_HEADER:
        raise BadRequest(f"Upload-Metadata is limited to {MAX_METADATA_HEADER} bytes")
    out: dict[str, str | None] = {}
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or not _KEY.match(parts[0]):
            raise BadRequest(f"Upload-Metadata: malformed pair {pair.strip()[:60]!r}")
        if parts[0] in out:
            raise BadRequest(f"Upload-Metadata: key {parts[0]!r} given twice")
        if len(parts) == 1:
            out[parts[0]] = None
            continue
        try:
            out[parts[0]] = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(f"Upload-Metadata: the value of {parts[0]!r} is not base64 of UTF-8 text") from exc
    return out


def encode_metadata(values: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """``Upload-Checksum: sha1 <base64 digest>`` → (algorithm, digest); 400 for an unknown one."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise BadRequest(f"checksum algorithm {algorithm!r} is not supported; use one of "
                         f"{', '.join(CHECKSUM_ALGORITHMS)}")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("Upload-Checksum: the digest is not base64") from exc
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise BadRequest(f"Upload-Checksum: a {algorithm} digest has {hashlib.new(algorithm).digest_size} bytes")
    return algorithm, digest


def parse_concat(header: str | None) -> tuple[str, list[int]] | None:
    """``Upload-Concat: partial`` → ("partial", []); ``final;URL URL`` → ("final", [ids])."""
    if header is None:
        return None
    value = header.strip()
    if value == "partial":
        return "partial", []
    if not value.startswith("final;"):
        raise BadRequest("Upload-Concat must be 'partial' or 'final;<upload URLs>'")
    ids: list[int] = []
    for url in value[len("final;"):].split():
        match = _UPLOAD_PATH.search(urlsplit(url).path)
        upload_id = id_or_none(match.group(1)) if match is not None else None
        if upload_id is None:
            raise BadRequest(f"Upload-Concat: {url[:100]!r} is not an upload URL of this server")
        ids.append(upload_id)
    if not ids:
        raise BadRequest("Upload-Concat: a final upload names at least one partial upload")
    if len(ids) > 100 or len(set(ids)) != len(ids):
        raise BadRequest("Upload-Concat: at most 100 distinct partial uploads")
    return "final", ids


def http_date(moment: datetime) -> str:
    """RFC 9110 date, as ``Upload-Expires`` wants it."""
    return format_datetime(moment, usegmt=True)


def ascii_header(text: str, limit: int = 300) -> str:
    """A header-safe rendering of free text (reasons may hold any character)."""
    return text.encode("ascii", "replace").decode()[:limit].replace("\r", " ").replace("\n", " ")


def base_headers(**extra: Any) -> dict[str, str]:
    headers = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
    headers.update({k.replace("_", "-"): str(v) for k, v in extra.items()})
    return headers
