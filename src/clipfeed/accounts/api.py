"""Account routes: thin, every rule lives in ``service``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import StreamingResponse

from clipfeed.accounts import service
from clipfeed.accounts.models import (
    DeleteAccountRequest,
    LoginRequest,
    ProfileUpdate,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    UserPrivate,
    UserPublic,
)
from clipfeed.core.errors import Forbidden, NotFound, UnsupportedMediaType
from clipfeed.http.deps import ClientIp, CurrentUser, Deps, bearer_token
from clipfeed.http.replicas import StaleReadsOk
from clipfeed.infra.blobs import BlobNotFound
from clipfeed.instance import service as instance

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=TokenPair)
async def register(body: RegisterRequest, services: Deps, ip: ClientIp) -> TokenPair:
    s = services.settings
    await services.limiter.hit("register", ip, limit=s.register_rate_per_hour, per_seconds=3600,
                               required=True)
    mode = (await instance.effective(services=services)).registration_mode
    if mode == "closed":
        raise Forbidden("registration is closed on this instance", reason="registration-closed")
    return await service.register(db=services.db, outbox=services.outbox, ids=services.ids,
                                  settings=s, request=body, invite_only=mode == "invite")


@router.post("/auth/login", response_model=TokenPair)
async def login(body: LoginRequest, services: Deps, ip: ClientIp) -> TokenPair:
    s = services.settings
    # Two limits: per address (one client guessing many accounts) and per account
    # (many addresses guessing one account).
    await services.limiter.hit("login-ip", ip, limit=s.login_rate_per_minute * 3, per_seconds=60,
                               required=True)
    return await service.login(db=services.db, ids=services.ids, settings=s, limiter=services.limiter,
                               login=body.login, password=body.password)


@router.post("/auth/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, services: Deps, ip: ClientIp) -> TokenPair:
    await services.limiter.hit("refresh", ip, limit=60, per_seconds=60)
    return await service.refresh(db=services.db, cache=services.cache, ids=services.ids, settings=services.settings,
                                 refresh_token=body.refresh_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, user: CurrentUser, services: Deps) -> Response:
    token = bearer_token(request)
    assert token is not None  # CurrentUser already required it
    await service.logout(db=services.db, cache=services.cache, token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserPrivate)
async def me(user: CurrentUser, services: Deps) -> UserPrivate:
    return service.private_view(user, settings=services.settings)


@router.patch("/me", response_model=UserPrivate)
async def update_me(body: ProfileUpdate, user: CurrentUser, services: Deps) -> UserPrivate:
    updated = await service.update_profile(db=services.db, cache=services.cache, outbox=services.outbox, user=user,
                                           update=body)
    return service.private_view(updated, settings=services.settings)


@router.put("/me/avatar", response_model=UserPrivate,
            openapi_extra={"requestBody": {"content": {"image/*": {"schema": {
                "type": "string", "format": "binary"}}}, "required": True}})
async def put_avatar(request: Request, user: CurrentUser, services: Deps) -> UserPrivate:
    """Upload the raw image as the body (JPEG, PNG, WebP or GIF)."""
    if not request.headers.get("content-type", "").startswith("image/"):
        raise UnsupportedMediaType("send the image bytes with an image/* Content-Type")
    updated = await service.set_avatar(db=services.db, cache=services.cache, blobs=services.blobs,
                                       settings=services.settings, user=user,
                                       data=await request.body())
    return service.private_view(updated, settings=services.settings)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(body: DeleteAccountRequest, user: CurrentUser, services: Deps) -> Response:
    await service.delete_account(db=services.db, cache=services.cache, blobs=services.blobs, outbox=services.outbox,
                                 user=user, password=body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users/{handle}", response_model=UserPublic, dependencies=[StaleReadsOk])
async def get_user(handle: str, services: Deps) -> UserPublic:
    """A profile by handle (``alice``, ``alice@other.server``) or by ID."""
    user = await service.get_by_ref(db=services.db, ref=handle)
    return service.public_view(user, settings=services.settings)


@router.get("/users/{handle}/avatar", response_class=StreamingResponse)
async def get_avatar(handle: str, services: Deps) -> StreamingResponse:
    user = await service.get_by_handle(db=services.db, handle=handle)
    if not user.avatar_key:
        raise NotFound(f"@{handle} has no avatar")
    try:
        info = await services.blobs.stat(user.avatar_key)
    except BlobNotFound as exc:
        raise NotFound(f"@{handle} has no avatar") from exc
    # The URL carries a version (?v=), so a new avatar gets a new URL: cache for long.
    return StreamingResponse(services.blobs.open_read(user.avatar_key), media_type="image/webp",
                             headers={"Cache-Control": "public, max-age=86400",
                                      "Content-Length": str(info.size), "ETag": f'"{info.etag}"'})
