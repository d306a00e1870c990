"""The media origin's part of the OpenAPI document: ``/media/{key}`` and its signed form.

The origin route is one catch-all path (``/media/{path:path}``), so FastAPI's generated document
leaves it out; this writes it in (wired by ``clipfeed.api``) with what it reads (Range and the
conditional headers) and answers (200/206/304/416 with ETag, Cache-Control, Content-Range).
"""

from __future__ import annotations

from typing import Any

from clipfeed.delivery.signing import SIGNED_PREFIX
from clipfeed.delivery.ttl import CONTENT_TYPES
from clipfeed.http.openapi import problem_response

Spec = dict[str, Any]
_KEY = {"name": "key", "in": "path", "required": True,
        "description": "the object's key, e.g. clips/{clip_id}/hls/master.m3u8 (slashes included)",
        "schema": {"type": "string"}}


def _text(description: str, *, required: bool = False) -> Spec:
    return {"description": description, "required": required, "schema": {"type": "string"}}


def _request(name: str, description: str) -> Spec:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": {"type": "string"}}


_VALIDATORS = {"ETag": _text("the object's version", required=True),
               "Last-Modified": _text("when the object was written", required=True),
               "Cache-Control": _text("how long caches may keep it (by age and popularity)", required=True)}
_BODY = {kind: {"schema": {"type": "string", "format": "binary"}} for kind in CONTENT_TYPES}


def _operation(signed: bool, method: str) -> Spec:
    params = [_KEY]
    if signed:
        params = [{"name": "kid", "in": "path", "required": True, "schema": {"type": "string"},
                   "description": "the signing key's ID"},
                  {"name": "expires", "in": "path", "required": True, "schema": {"type": "string"},
                   "description": "Unix time the link stops working"},
                  {"name": "signature", "in": "path", "required": True, "schema": {"type": "string"},
                   "description": "HMAC of the clip scope and the expiry"}, _KEY]
    params += [_request("Range", "one byte range, e.g. bytes=0-1023 (several ranges get the whole object)"),
               _request("If-None-Match", "ETags the client holds (304 when one matches)"),
               _request("If-Modified-Since", "HTTP date (304 when not modified since)"),
               _request("If-Range", "the Range applies only while the object still has this ETag or date")]
    body = {} if method == "head" else {"content": _BODY}
    errors: Spec = {
        "404": problem_response(404, "No such object, or not visible (unknown, processing, not public and unsigned)"),
        "410": problem_response(410, "The clip was removed, or the signed link expired"),
        "503": problem_response(503, Retry_After=True)}
    if signed:
        errors["403"] = problem_response(403, "The signature does not match")
    return {
        "tags": ["media"], "operationId": f"media_{'signed_' if signed else ''}{method}",
        "summary": "Media object" + (" (signed link)" if signed else ""),
        "description": "Playlists, segments and images of ready clips. Private and unlisted clips need a "
                       "signed link (from the playback info); the key may only name objects under "
                       "clips/{clip_id}/, never the uploaded master.",
        "parameters": params,
        "responses": {
            "200": {"description": "The whole object", **body,
                    "headers": {**_VALIDATORS, "Accept-Ranges": _text("bytes", required=True)}},
            "206": {"description": "The requested range", **body,
                    "headers": {**_VALIDATORS, "Content-Range": _text("bytes first-last/size", required=True)}},
            "304": {"description": "Not modified: the client's copy is current", "headers": _VALIDATORS},
            "416": {"description": "The range starts past the end",
                    "headers": {"Content-Range": _text("bytes */size", required=True)}},
            **errors,
        },
    }


def document(spec: Spec) -> None:
    paths = spec.setdefault("paths", {})
    for signed, template in ((False, "/media/{key}"),
                             (True, f"/media/{SIGNED_PREFIX}/{{kid}}/{{expires}}/{{signature}}/{{key}}")):
        paths[template] = {method: _operation(signed, method) for method in ("get", "head")}
        for operation in paths[template].values():
            for response in operation["responses"].values():
                response.setdefault("headers", {})["X-Request-ID"] = {"$ref": "#/components/headers/X-Request-ID"}
