"""``create_app()``: the FastAPI application with every feature's router mounted under /v1."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from threadpoolctl import threadpool_limits

from clipfeed import __version__
from clipfeed.accounts.api import router as accounts_router
from clipfeed.analytics.api import router as analytics_router
from clipfeed.bootstrap import Services, bootstrap
from clipfeed.clips.api import router as clips_router
from clipfeed.delivery import openapi as origin_openapi
from clipfeed.delivery.api import router as delivery_router
from clipfeed.delivery.api import web_router
from clipfeed.delivery.origin import router as origin_router
from clipfeed.events.api import router as events_router
from clipfeed.federation.admin_api import router as federation_admin_router
from clipfeed.federation.api import router as federation_router
from clipfeed.federation.negotiation import ActivityPubPaths
from clipfeed.http import health, openapi, problems
from clipfeed.http.metrics import time_collections
from clipfeed.http.middleware import BodyLimit, ControlCharactersInPath, RequestContext
from clipfeed.http.replicas import ReadYourWrites
from clipfeed.http.restarts import RunReadsAgain
from clipfeed.http.shedding import Load, Shedding, watch_for_termination
from clipfeed.instance.api import router as instance_router
from clipfeed.media import prober
from clipfeed.media.api import router as media_router
from clipfeed.media.blocklist_api import router as blocklist_router
from clipfeed.moderation.api import router as moderation_router
from clipfeed.notifications.api import router as notifications_router
from clipfeed.recs.api import router as feed_router
from clipfeed.recs.dismissals_api import router as dismissals_router
from clipfeed.search.api import router as search_router
from clipfeed.search.discovery_api import router as discovery_router
from clipfeed.settings import Settings
from clipfeed.social.api import router as social_router
from clipfeed.social.events import start_shard_relays
from clipfeed.stream.api import router as trending_router
from clipfeed.uploads import openapi as tus_openapi
from clipfeed.uploads.api import router as uploads_router
from clipfeed.uploads.http import TusHeaders
from clipfeed.uploads.protocol import EXPOSED_HEADERS as TUS_EXPOSED_HEADERS
from clipfeed.webapp.api import router as webapp_router

# Every feature's router, in the order their routes are matched. Each declares its own "/v1"
# prefix, so route templates (metrics labels, logs) carry the full path. Routes are tried one by
# one, so the routers whose requests come in the largest numbers go first (their paths overlap
# no other router's): other servers' inboxes (matched after the other 20 routers, an inbox POST
# spent a third of its CPU finding its route), the apps' playback events and the feed.
FEATURE_ROUTERS: list[APIRouter] = [
    federation_router,        # ActivityPub: WebFinger, NodeInfo, actors, clips as Video, inboxes
    events_router,            # batched playback events
    feed_router,              # For You and Following feeds, interests
    accounts_router,          # sign-up, sign-in, tokens, profile
    clips_router,             # clip reads, edits, deletion, status
    moderation_router,        # review queue, reports, audit
    blocklist_router,         # fingerprint blocklist
    instance_router,          # the instance's name and sign-up mode; the admin console
    uploads_router,           # tus 1.0
    trending_router,          # trending clips and hashtags
    analytics_router,         # creator analytics
    media_router,             # re-edits
    delivery_router,          # playback info, purges
    origin_router,            # /media/ origin
    web_router,               # /app/ and /share/ pages
    dismissals_router,        # "not interested", hidden creators
    social_router,            # follows, likes, comments, shares, blocks
    notifications_router,     # inbox and its SSE stream
    search_router,            # search and suggestions
    discovery_router,         # hashtag pages and follows, Discover, similar clips, mute filters
    federation_admin_router,  # finding remote accounts; remote servers' policies
    webapp_router,            # the web app, /docs, /redoc: last, its catch-all answers what nothing else routes
]
# Parts of the OpenAPI document that features whose wire format is not JSON write themselves.
OPENAPI_EXTRAS: list[Callable[[dict[str, Any]], None]] = [tus_openapi.document, origin_openapi.document]
class StartupHook(Protocol):
    """Start-up work a feature needs (background loops), run once the services are built."""

    def __call__(self, *, services: Services) -> None: ...


STARTUP_HOOKS: list[StartupHook] = [
    start_shard_relays,       # outbox relays of shard databases
]


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the app. With ``services`` given (tests, the demo), the caller owns their life;
    otherwise they are built from ``settings`` at start-up and closed at shutdown."""
    settings = services.settings if services else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        limits = _limit_compute_threads(settings.serve_compute_threads)
        app.state.services = services or await bootstrap(settings)
        for hook in STARTUP_HOOKS:
            hook(services=app.state.services)
        if owned:
            _start_inprocess_workers(services=app.state.services)
            # Not for an app given its services (tests, the demo): they build many apps in one
            # process, and frozen objects are never collected.
            settle_heap()
            # The upload prober's PyAV import, before the first final PATCH waits for it.
            app.state.services.spawn(asyncio.to_thread(prober.warm), name="prober-warm")
            time_collections()
        unwatch = watch_for_termination(load)  # /readyz and new requests see a SIGTERM at once
        load.start_sampling()
        try:
            yield
        finally:
            if owned:
                await app.state.services.close()
                await asyncio.to_thread(prober.stop)
            limits.restore_original_limits()
            unwatch()
            await load.stop_sampling()

    app = FastAPI(title="Clipfeed API", version=__version__, lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url=None, redoc_url=None,  # docs: clipfeed.webapp
                  description="Short-video platform API. Errors are RFC 9457 problem+json.")
    if services is not None:
        app.state.services = services
    load = Load(max_in_flight=settings.shed_max_in_flight, max_loop_lag_s=settings.shed_max_loop_lag_ms / 1000)
    app.state.load = load
    problems.install(app)
    openapi.install(app, extras=OPENAPI_EXTRAS)
    app.include_router(health.router)
    for router in FEATURE_ROUTERS:
        app.include_router(router)

    # Middleware runs outermost-last-added: request context wraps everything.
    app.add_middleware(RunReadsAgain, wait_s=settings.database_restart_wait_s)  # innermost: holds back a 503
    app.add_middleware(BodyLimit, limits=[
        ("/v1/me/avatar", settings.avatar_max_bytes + 64 * 1024),
        ("/v1/uploads", settings.upload_max_chunk_bytes),
        ("/v1/moderation/blocklist", settings.blocklist_max_file_bytes + 64 * 1024),
        ("/v1/events", settings.events_max_body_bytes),
        ("", settings.max_json_body_bytes),
    ])
    app.add_middleware(ControlCharactersInPath)
    app.add_middleware(ActivityPubPaths)  # /@handle and /share/c/<id> asked for as ActivityPub
    app.add_middleware(Shedding, load=load)  # before any work; inside TusHeaders (tus wants its header on a 503)
    app.add_middleware(TusHeaders)  # outside BodyLimit: its 413 carries Tus-Resumable too
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                       allow_methods=["*"], allow_headers=["*"],
                       expose_headers=["X-Request-ID", "Retry-After", *TUS_EXPOSED_HEADERS])
    if settings.database_replica_urls or any(settings.database_shard_replica_urls):
        app.add_middleware(ReadYourWrites)  # inside the request context: its logs carry the request ID
    app.add_middleware(RequestContext)
    return app


def settle_heap() -> None:
    """Keep what start-up loaded (modules, models, settings), which lives as long as the
    serving process, out of the cyclic collector's full passes. Measured with the app loaded:
    one full collection took 131 ms (220k objects), a stall for every request in flight and
    for in-process workers' heartbeats; after the freeze it walks only what requests and
    caches made since."""
    gc.collect()
    gc.freeze()


def _limit_compute_threads(threads: int) -> threadpool_limits:
    """Cap the thread pools of the numeric libraries the feed calls per request. A limit
    reaches only libraries already loaded, hence the imports. BLAS pools are per process;
    OpenMP's limit is per calling thread (its nthreads ICV), here the event loop's, so worker
    roles' own threads (ALS fits, index builds) keep every core."""
    import faiss  # noqa: F401  (loads its OpenMP and BLAS)
    import lightgbm  # noqa: F401  (loads the system OpenMP)

    return threadpool_limits(limits=threads)


def _start_inprocess_workers(*, services: Services) -> None:
    from clipfeed.workers import roles, run_role

    for role in services.settings.worker_roles_in_process(roles()):
        services.spawn(run_role(role, services.stopping, services=services), f"worker-{role}")
