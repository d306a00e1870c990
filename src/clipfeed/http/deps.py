"""FastAPI dependencies, as ``Annotated`` aliases so route signatures stay readable."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role, User
from clipfeed.core.errors import Forbidden, Unauthorized
from clipfeed.runtime.services import Services


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Deps = Annotated[Services, Depends(get_services)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query_params.get("access_token") if request.url.path.endswith("/stream") else None


async def optional_user(request: Request, *, services: Deps) -> User | None:
    token = bearer_token(request)
    if token is None:
        return None
    user = await accounts.user_for_token(db=services.db, cache=services.cache, token=token)
    request.state.user = user
    return user


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("sign in: send 'Authorization: Bearer <access token>'",
                           headers={"WWW-Authenticate": 'Bearer realm="clipfeed"'})
    return user


def require_admin(user: User) -> None:
    """403 unless ``user`` is an admin (every ``/v1/admin/…`` route)."""
    if user.role != Role.admin.value:
        raise Forbidden("admins only")


async def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]
ClientIp = Annotated[str, Depends(client_ip)]
