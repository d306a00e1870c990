"""``clipfeed serve --role origin``: only the media origin and the health checks, for hosts
that sit behind the edges and serve nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from clipfeed import __version__
from clipfeed.bootstrap import bootstrap
from clipfeed.delivery.origin import router as media_router
from clipfeed.http import health, problems
from clipfeed.http.middleware import RequestContext
from clipfeed.settings import Settings


def create_origin_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await bootstrap(settings)
        try:
            yield
        finally:
            await app.state.services.close()

    app = FastAPI(title="Clipfeed media origin", version=__version__, lifespan=lifespan, openapi_url=None,
                  docs_url=None, redoc_url=None)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(media_router)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=False, allow_methods=["GET", "HEAD"],
                       allow_headers=["Range", "If-None-Match", "If-Modified-Since", "If-Range"])
    app.add_middleware(RequestContext)
    return app
