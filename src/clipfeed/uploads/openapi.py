"""The tus part of the OpenAPI document: headers in and out, and the status codes tus gives.

FastAPI sees the tus routes as functions returning a bare ``Response``, so it can say nothing of
what they read and answer; this module says it (wired by ``clipfeed.api`` into
``clipfeed.http.openapi``). Values come from ``protocol`` so the document follows the code.
"""

from __future__ import annotations

from typing import Any

from clipfeed.http.openapi import problem_response
from clipfeed.uploads.protocol import (
    CHECKSUM_ALGORITHMS,
    CLIP_ID_HEADER,
    OFFSET_CONTENT_TYPE,
    STATE_HEADER,
    TUS_VERSION,
)

Spec = dict[str, Any]
_COUNT: dict[str, Any] = {"type": "string", "pattern": "^[0-9]{1,19}$"}  # a non-negative integer, in decimal
_CHECKSUM = "^(" + "|".join(CHECKSUM_ALGORITHMS) + ") [A-Za-z0-9+/]+={0,2}$"


def _header(name: str, description: str, *, required: bool = False, **schema: Any) -> Spec:
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def _out(description: str, *, required: bool = False, **schema: Any) -> Spec:
    return {"description": description, "required": required, "schema": schema or {"type": "string"}}


TUS_RESUMABLE = _header("Tus-Resumable", "the tus version the client speaks", required=True, enum=[TUS_VERSION])
UPLOAD_LENGTH = _header("Upload-Length", "the size of the whole upload in bytes", **_COUNT)
UPLOAD_CHECKSUM = _header("Upload-Checksum", "algorithm and base64 digest of this request's body",
                          type="string", pattern=_CHECKSUM)
OFFSET_BODY = {"required": False, "content": {OFFSET_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
STATE = _out("receiving, complete, rejected, expired or terminated")
RESUMABLE_OUT = _out("the tus version of the server", required=True, enum=[TUS_VERSION])
OFFSET_OUT = _out("bytes received so far", required=True, type="integer", minimum=0)
EXPIRES_OUT = _out("when an unfinished upload is dropped (HTTP date)")
CLIP_OUT = _out("the clip the finished upload became")


def _problem(status: int, description: str | None = None, **headers: bool) -> Spec:
    response = problem_response(status, description, **headers)
    response["headers"]["Tus-Resumable"] = RESUMABLE_OUT
    return response


def _errors(*statuses: int) -> Spec:
    text = {400: "A tus header or the metadata cannot be read", 403: "A final upload takes no PATCH",
            409: "Upload-Offset is not where the upload is", 410: "The upload expired or was terminated",
            412: "Tus-Resumable is missing or names another version (Tus-Version lists ours)",
            415: f"The body needs Content-Type: {OFFSET_CONTENT_TYPE}",
            422: "The finished file was not accepted (Clipfeed-Upload-Reason says why)",
            423: "Another request is writing to this upload", 460: "The body does not match Upload-Checksum"}
    retry = {423: {"Retry_After": False}, 429: {"Retry_After": True}, 503: {"Retry_After": True}}
    return {str(s): _problem(s, text.get(s), **retry.get(s, {})) for s in statuses}


def document(spec: Spec) -> None:
    paths = spec.get("paths", {})
    collection, item = paths.get("/v1/uploads/"), paths.get("/v1/uploads/{upload_id}")
    if collection is None or item is None:
        return
    collection["options"]["responses"] = {"204": {"description": "What this tus server supports", "headers": {
        "Tus-Resumable": RESUMABLE_OUT, "Tus-Version": _out("tus versions spoken", required=True),
        "Tus-Max-Size": _out("the largest upload in bytes", required=True, type="integer"),
        "Tus-Extension": _out("tus extensions supported", required=True),
        "Tus-Checksum-Algorithm": _out("checksum algorithms", required=True)}}}
    create = collection["post"]
    create["parameters"] = [TUS_RESUMABLE, UPLOAD_LENGTH, UPLOAD_CHECKSUM,
                            _header("Upload-Defer-Length", "send 1 to give the length later", enum=["1"]),
                            _header("Upload-Metadata", "comma-separated 'key base64(value)' pairs: filename, "
                                                       "caption, visibility, hashtags, clip_id, edits",
                                    maxLength=32 * 1024),
                            _header("Upload-Concat", "'partial', or 'final;<upload URLs>'")]
    create["requestBody"] = OFFSET_BODY
    create["responses"] = {"201": {"description": "Created; Location is the upload's URL", "headers": {
        "Location": _out("the upload's URL", required=True), "Tus-Resumable": RESUMABLE_OUT,
        "Upload-Offset": OFFSET_OUT, "Upload-Expires": EXPIRES_OUT, STATE_HEADER: STATE, CLIP_ID_HEADER: CLIP_OUT}},
        **_errors(400, 401, 409, 412, 413, 415, 422, 429, 460, 503)}
    item["head"]["parameters"] = [*item["head"].get("parameters", []), TUS_RESUMABLE]
    item["head"]["responses"] = {"200": {"description": "The upload's state", "headers": {
        "Tus-Resumable": RESUMABLE_OUT, "Upload-Offset": OFFSET_OUT, "Upload-Expires": EXPIRES_OUT,
        "Upload-Length": _out("the whole size, when known", type="integer"),
        "Upload-Defer-Length": _out("1 while the length is not known"),
        "Upload-Metadata": _out("the metadata given at creation"), "Upload-Concat": _out("partial or final;…"),
        "Cache-Control": _out("no-store", required=True), STATE_HEADER: STATE, CLIP_ID_HEADER: CLIP_OUT}},
        **_errors(401, 404, 410, 412, 503)}
    patch = item["patch"]
    patch["parameters"] = [*patch.get("parameters", []), TUS_RESUMABLE,
                           _header("Upload-Offset", "where this chunk starts", required=True, **_COUNT),
                           UPLOAD_LENGTH, UPLOAD_CHECKSUM]
    patch["requestBody"] = {**OFFSET_BODY, "required": True}
    patch["responses"] = {"204": {"description": "The chunk is stored", "headers": {
        "Tus-Resumable": RESUMABLE_OUT, "Upload-Offset": OFFSET_OUT, "Upload-Expires": EXPIRES_OUT,
        STATE_HEADER: STATE, CLIP_ID_HEADER: CLIP_OUT}},
        **_errors(400, 401, 403, 404, 409, 410, 412, 413, 415, 422, 423, 429, 460, 503)}
    item["delete"]["parameters"] = [*item["delete"].get("parameters", []), TUS_RESUMABLE]
    item["delete"]["responses"] = {"204": {"description": "Terminated", "headers": {"Tus-Resumable": RESUMABLE_OUT}},
                                   **_errors(401, 404, 410, 412, 423, 503)}
    override = {**patch, "operationId": "override_upload_method", "summary": "PATCH or DELETE through POST",
                "description": "For clients behind proxies that drop PATCH and DELETE: "
                               "X-HTTP-Method-Override names the method meant."}
    # Upload-Offset and the body stay required as for PATCH: a DELETE meant this way ignores them.
    override["parameters"] = [*patch["parameters"], _header(
        "X-HTTP-Method-Override", "the method meant", required=True, enum=["PATCH", "DELETE"])]
    override["responses"] = {**patch["responses"], "400": _problem(400, "A tus header cannot be read, or "
                                                                        "X-HTTP-Method-Override is missing")}
    item["post"] = override
    for operation in (item["get"], *collection.values(), *item.values()):
        for response in operation["responses"].values():
            response.setdefault("headers", {}).setdefault("Tus-Resumable", RESUMABLE_OUT)
            response["headers"].setdefault("X-Request-ID", {"$ref": "#/components/headers/X-Request-ID"})
