"""``create_app()``: the FastAPI application with every feature's router mounted under /v1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from clipfeed import __version__
from clipfeed.accounts.api import router as accounts_router
from clipfeed.bootstrap import Services, bootstrap
from clipfeed.clips.api import router as clips_router
from clipfeed.http import health, problems
from clipfeed.http.middleware import BodyLimit, RequestContext
from clipfeed.moderation.api import router as moderation_router
from clipfeed.settings import Settings

# Routers of every feature, in this order. Each declares its own "/v1" prefix, so route
# templates (metrics labels, logs) carry the full path.
FEATURE_ROUTERS: list[APIRouter] = [accounts_router, clips_router, moderation_router]
# Extra start-up work features need (background loops), run after the services are built.
STARTUP_HOOKS: list[Callable[[Services], None]] = []


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the app. With ``services`` given (tests, the demo), the caller owns their life;
    otherwise they are built from ``settings`` at start-up and closed at shutdown."""
    settings = services.settings if services else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or await bootstrap(settings)
        for hook in STARTUP_HOOKS:
            hook(app.state.services)
        if owned:
            _start_inprocess_workers(app.state.services)
        try:
            yield
        finally:
            if owned:
                await app.state.services.close()

    app = FastAPI(title="Clipfeed API", version=__version__, lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                  description="Short-video platform API. Errors are RFC 9457 problem+json.")
    if services is not None:
        app.state.services = services
    problems.install(app)
    app.include_router(health.router)
    for router in FEATURE_ROUTERS:
        app.include_router(router)

    # Middleware runs outermost-last-added: request context wraps everything.
    app.add_middleware(BodyLimit, limits=[
        ("/v1/me/avatar", settings.avatar_max_bytes + 64 * 1024),
        ("", settings.max_json_body_bytes),
    ])
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                       allow_methods=["*"], allow_headers=["*"],
                       expose_headers=["Location", "X-Request-ID", "Retry-After"])
    app.add_middleware(RequestContext)
    return app


def _start_inprocess_workers(services: Services) -> None:
    from clipfeed.workers import roles, run_role

    for role in services.settings.worker_roles_in_process(roles()):
        services.spawn(run_role(services, role, services.stopping), f"worker-{role}")
