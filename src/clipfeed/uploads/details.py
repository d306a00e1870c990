"""What a creator says about an upload (``Upload-Metadata``), validated when the upload is created.

Keys: ``filename``, ``caption``, ``hashtags`` (comma- or space-separated), ``visibility``,
``clip_id`` (attach to an existing draft) and ``edits`` (a JSON object for the media pipeline,
which validates its content; we only check it is an object of at most 16 KiB). Other keys that
clients add on their own (``filetype``, ``name``…) are ignored. Bad values are a 400 problem.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from pydantic import ValidationError

from clipfeed.clips.models import ClipCreate, normalise_hashtags
from clipfeed.core.errors import BadRequest
from clipfeed.core.identifiers import parse_id
from clipfeed.core.text import clean_text
from clipfeed.media.edits import EditList

MAX_EDITS_BYTES = 16 * 1024
MAX_FILENAME = 255
_SPLIT_TAGS = re.compile(r"[\s,]+")


def _filename(raw: str | None) -> str:
    if not raw:
        return "upload"
    # Only the last path component, whatever separator the client's system uses.
    try:
        name = clean_text(PureWindowsPath(PurePosixPath(raw).name).name, multiline=False, required=True)
    except ValueError:
        raise BadRequest("metadata 'filename' must be a plain file name without control characters") from None
    return name[:MAX_FILENAME]


def _edits(raw: str | None) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    if len(raw.encode()) > MAX_EDITS_BYTES:
        raise BadRequest(f"metadata 'edits' is limited to {MAX_EDITS_BYTES} bytes")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("metadata 'edits' is not valid JSON") from exc
    if not isinstance(value, dict):
        raise BadRequest("metadata 'edits' must be a JSON object")
    # Checked here, at the edge, with the pipeline's own rules: a bad edit list is refused with
    # the upload, not found out after the bytes were sent and the clip failed to process.
    try:
        EditList.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "edits"
        raise BadRequest(f"metadata 'edits' is not a valid edit list: {where}: {first['msg']}") from None
    return value


def _clip_id(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return parse_id(raw)
    except ValueError:
        raise BadRequest("metadata 'clip_id' must be the ID of one of your draft clips") from None


def validate(values: dict[str, str | None]) -> dict[str, Any]:
    """The stored, validated form of the metadata; ``BadRequest`` says what is wrong."""
    tags = [t for t in _SPLIT_TAGS.split(values.get("hashtags") or "") if t]
    try:
        clip = ClipCreate.model_validate({"caption": values.get("caption") or "", "hashtags": tags,
                                          "visibility": values.get("visibility") or "public"})
        hashtags = normalise_hashtags(clip.hashtags, clip.caption)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise BadRequest(f"invalid metadata: {problems}") from exc
    except ValueError as exc:
        raise BadRequest(f"invalid metadata: {exc}") from exc
    return {"filename": _filename(values.get("filename")), "caption": clip.caption,
            "hashtags": hashtags, "visibility": clip.visibility.value,
            "edits": _edits(values.get("edits")), "clip_id": _clip_id(values.get("clip_id"))}


def clip_request(details: dict[str, Any]) -> ClipCreate:
    return ClipCreate.model_validate({"caption": details.get("caption", ""),
                                      "hashtags": details.get("hashtags", []),
                                      "visibility": details.get("visibility", "public")})
