"""tus 1.0.0 routes at ``/v1/uploads/`` (thin: parsing lives in ``protocol``, rules in ``service``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.requests import ClientDisconnect

from clipfeed.core.errors import BadRequest, NotFound, UnsupportedMediaType
from clipfeed.core.identifiers import id_or_none
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.instance import service as instance
from clipfeed.uploads import service
from clipfeed.uploads.handoff import UploadRejected
from clipfeed.uploads.limits import router as limits_router
from clipfeed.uploads.models import Upload, UploadKind, UploadPublic, UploadState
from clipfeed.uploads.protocol import (
    CHECKSUM_ALGORITHMS,
    CLIP_ID_HEADER,
    EXTENSIONS,
    OFFSET_CONTENT_TYPE,
    STATE_HEADER,
    TUS_VERSION,
    check_version,
    http_date,
    parse_checksum,
    parse_concat,
    parse_int_header,
)
from clipfeed.uploads.status import router as status_router

router = APIRouter(prefix="/v1", tags=["uploads"])
router.include_router(status_router)
router.include_router(limits_router)


async def tus_request(request: Request) -> None:
    """Runs before authentication, so a client speaking another version learns it first."""
    check_version(request.headers.get("tus-resumable"))


Tus = Annotated[None, Depends(tus_request)]


def _id(text: str) -> int:
    upload_id = id_or_none(text)
    if upload_id is None:
        raise NotFound(f"no upload {text[:30]!r}")
    return upload_id


def _tus_headers(row: Upload) -> dict[str, str]:
    headers = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", "Upload-Offset": str(row.offset),
               STATE_HEADER: row.state}
    if row.state == UploadState.receiving.value:
        headers["Upload-Expires"] = http_date(row.expires_at)
    if row.state == UploadState.complete.value and row.kind != UploadKind.partial.value and row.clip_id:
        headers[CLIP_ID_HEADER] = str(row.clip_id)
    return headers


def _location(request: Request, upload_id: int, *, services: Deps) -> str:
    base = services.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/v1/uploads/{upload_id}"


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


@router.options("/uploads", include_in_schema=False)
@router.options("/uploads/")
@router.options("/uploads/{upload_id}", include_in_schema=False)
async def tus_options(*, services: Deps) -> Response:
    """What this tus server supports (no authentication, no Tus-Resumable needed)."""
    max_bytes = (await instance.effective(services=services)).upload_max_bytes  # admins may override it
    return Response(status_code=204, headers={
        "Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION,
        "Tus-Max-Size": str(max_bytes), "Tus-Extension": ",".join(EXTENSIONS),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS)})


@router.post("/uploads", include_in_schema=False, status_code=201)
@router.post("/uploads/", status_code=201)
async def create_upload(request: Request, _tus: Tus, user: CurrentUser, services: Deps) -> Response:
    """tus creation (+ creation-with-upload, creation-defer-length, concatenation)."""
    h = request.headers
    concat = parse_concat(h.get("upload-concat"))
    length = parse_int_header("Upload-Length", h.get("upload-length"))
    defer = h.get("upload-defer-length")
    if defer not in (None, "1"):
        raise BadRequest("Upload-Defer-Length must be 1")
    body_length = parse_int_header("Content-Length", h.get("content-length"))
    has_body = bool(body_length) or "chunked" in h.get("transfer-encoding", "").lower()
    if has_body and _content_type(request) != OFFSET_CONTENT_TYPE:
        raise UnsupportedMediaType(f"a body sent with the creation request needs Content-Type: {OFFSET_CONTENT_TYPE}")
    if has_body and concat and concat[0] == "final":
        raise BadRequest("a final upload takes no body")
    checksum = parse_checksum(h.get("upload-checksum"))
    row = await service.create(user=user, length=length, defer=defer == "1", metadata_header=h.get("upload-metadata"),
                               concat=concat, services=services)
    location = _location(request, row.id, services=services)
    try:
        if row.kind == UploadKind.final.value or (row.length == 0 and not has_body):
            row = await service.finish_final(row, services=services)  # nothing to wait for: judge it now
        elif has_body:
            row = await service.write_initial(row=row, chunks=request.stream(), checksum=checksum, services=services)
    except UploadRejected as exc:
        exc.headers["Location"] = location
        raise
    except ClientDisconnect:
        return Response(status_code=400)
    return Response(status_code=201, headers={**_tus_headers(row), "Location": location})


@router.head("/uploads/{upload_id}")
async def head_upload(upload_id: str, request: Request, _tus: Tus, user: CurrentUser,
                      services: Deps) -> Response:
    row = await service.inspect(user=user, upload_id=_id(upload_id), services=services)
    headers = _tus_headers(row)
    if row.length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(row.length)
    if row.metadata_header:
        headers["Upload-Metadata"] = row.metadata_header
    if row.kind == UploadKind.partial.value:
        headers["Upload-Concat"] = "partial"
    elif row.kind == UploadKind.final.value:
        headers["Upload-Concat"] = "final;" + " ".join(_location(request, p, services=services) for p in row.partials)
    return Response(status_code=200, headers=headers)


@router.patch("/uploads/{upload_id}", status_code=204)
async def patch_upload(upload_id: str, request: Request, _tus: Tus, user: CurrentUser,
                       services: Deps) -> Response:
    """Append a chunk at Upload-Offset; the last chunk creates the clip (or answers 422)."""
    return await _patch(upload_id, request, user, services=services)


async def _patch(upload_id: str, request: Request, user: CurrentUser, *, services: Deps) -> Response:
    h = request.headers
    if _content_type(request) != OFFSET_CONTENT_TYPE:
        raise UnsupportedMediaType(f"PATCH bodies need Content-Type: {OFFSET_CONTENT_TYPE}")
    offset = parse_int_header("Upload-Offset", h.get("upload-offset"), required=True)
    assert offset is not None
    try:
        row = await service.append(
            user=user, upload_id=_id(upload_id), offset=offset, length=parse_int_header("Upload-Length",
                                                                                        h.get("upload-length")),
            content_length=parse_int_header("Content-Length", h.get("content-length")),
            checksum=parse_checksum(h.get("upload-checksum")),
            chunks=request.stream(), services=services)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening any more
    return Response(status_code=204, headers=_tus_headers(row))


@router.delete("/uploads/{upload_id}", status_code=204)
async def delete_upload(upload_id: str, _tus: Tus, user: CurrentUser, services: Deps) -> Response:
    """tus termination: the upload and its bytes are gone; later requests answer 404."""
    await service.terminate(user=user, upload_id=_id(upload_id), services=services)
    return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})


@router.post("/uploads/{upload_id}", include_in_schema=False)
async def override_method(upload_id: str, request: Request, _tus: Tus, user: CurrentUser,
                          services: Deps) -> Response:
    """``X-HTTP-Method-Override: PATCH|DELETE`` for clients behind proxies that drop those verbs."""
    method = request.headers.get("x-http-method-override", "").upper()
    if method == "PATCH":
        return await _patch(upload_id, request, user, services=services)
    if method == "DELETE":
        await service.terminate(user=user, upload_id=_id(upload_id), services=services)
        return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})
    raise BadRequest("POST to an upload needs X-HTTP-Method-Override: PATCH or DELETE")


@router.get("/uploads/{upload_id}", response_model=UploadPublic)
async def get_upload(upload_id: str, user: CurrentUser, services: Deps) -> UploadPublic:
    """The upload's state as JSON (not part of tus): progress, the clip it became, or why it
    was rejected."""
    row = await service.owned(user_id=user.id, upload_id=_id(upload_id), services=services)
    expired = service.is_expired(row)
    return UploadPublic(
        id=str(row.id), kind=UploadKind(row.kind),
        state=UploadState.expired if expired else UploadState(row.state), offset=row.offset,
        length=row.length, filename=(row.details or {}).get("filename"),
        clip_id=str(row.clip_id) if row.clip_id and row.state == UploadState.complete.value
        and row.kind != UploadKind.partial.value else None,
        sha256=row.sha256, reason=row.reason, created_at=row.created_at,
        expires_at=row.expires_at if row.state == UploadState.receiving.value else None,
        finished_at=row.finished_at)
