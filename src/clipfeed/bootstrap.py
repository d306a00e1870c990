"""The composition root: the only place that builds adapters from ``Settings``.

``Services`` (the wired ports) is defined in ``clipfeed.runtime.services`` and re-exported here.

The API, the workers, the CLI and the tests all get their dependencies from ``bootstrap``,
so they run the same wiring whatever the backends are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import structlog

from clipfeed.core.ids import IdGenerator, default_node
from clipfeed.infra.blobs import open_blob_store
from clipfeed.infra.breaker import BREAKERS, BreakerPolicy
from clipfeed.infra.cache import open_cache
from clipfeed.infra.db import Database
from clipfeed.infra.log import open_event_log
from clipfeed.runtime.live import LiveHub
from clipfeed.runtime.outbox import Outbox
from clipfeed.runtime.ratelimit import RateLimiter
from clipfeed.runtime.services import Services, ServicesJob
from clipfeed.settings import Settings

T = TypeVar("T")


def configure_breakers(settings: Settings) -> None:
    """Every breaker of the process from Settings."""
    BREAKERS.configure(BreakerPolicy(failures=settings.breaker_failures, open_s=settings.breaker_open_s))


async def bootstrap(settings: Settings, *, relay: bool = True) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    node = settings.node_id if settings.node_id >= 0 else default_node()
    ids = IdGenerator(node)
    configure_breakers(settings)
    db = Database(settings.resolve(settings.database_url),
                  shard_urls=[settings.resolve(u) for u in settings.database_shard_urls],
                  virtual_shards=settings.virtual_shards, pool_size=settings.database_pool_size,
                  replica_urls=[settings.resolve(u) for u in settings.database_replica_urls],
                  shard_replica_urls=[[settings.resolve(u) for u in urls]
                                      for urls in settings.database_shard_replica_urls],
                  replica_max_lag_s=settings.database_replica_max_lag_s,
                  replica_access_max_stale_s=settings.database_replica_access_max_stale_s,
                  restart_wait_s=settings.database_restart_wait_s,
                  restart_breaker_open_s=settings.database_restart_breaker_open_s)
    await db.load_shard_map()  # virtual shards moved by `clipfeed shards move`
    blobs = open_blob_store(settings.resolve(settings.blob_url))
    cache = open_cache(settings.resolve(settings.cache_url))
    event_log = await open_event_log(settings.resolve(settings.log_url))
    _announce_embedded(settings)
    outbox = Outbox(db=db, log=event_log, ids=ids, region=settings.region)
    services = Services(settings=settings, ids=ids, db=db, blobs=blobs, cache=cache, log=event_log,
                        outbox=outbox, limiter=RateLimiter(cache), live=LiveHub(event_log))
    if relay:
        services.spawn(outbox.run(services.stopping), "outbox-relay")
    return services


def run_with_services(job: ServicesJob[T], settings: Settings | None = None) -> T:
    """Run ``job`` with services built from ``settings`` (the environment's by default) and
    closed afterwards: what a one-shot CLI command does."""
    async def run() -> T:
        async with running(settings or Settings()) as services:
            return await job(services=services)

    return asyncio.run(run())


@asynccontextmanager
async def running(settings: Settings, *, relay: bool = True) -> AsyncIterator[Services]:
    services = await bootstrap(settings, relay=relay)
    try:
        yield services
    finally:
        await services.close()


def _announce_embedded(settings: Settings) -> None:
    """Dev backends say so, so nobody runs production on them by accident."""
    embedded = [name for name, url in (("database", settings.database_url),
                                       ("cache", settings.cache_url),
                                       ("event log", settings.log_url))
                if url.startswith(("sqlite", "memory", "embedded"))]
    if embedded:
        structlog.get_logger(__name__).warning(
            "embedded backends in use: fine for one machine; see docs/operate/deployment.md (Stage 3: a cluster)",
            backends=embedded)
