"""Clipfeed servers for the federation tests: each on its own loopback address and port, served
by uvicorn (other servers reach it over real HTTP), with the federation and stream worker roles
running in the same process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from clipfeed.settings import Settings
from tests import services as engines
from tests.helpers import Account, signup


@dataclass
class Server:
    url: str
    host: str  # host:port, how other servers name it
    client: httpx.AsyncClient
    services: Any

    async def account(self, handle: str) -> Account:
        return await signup(self.client, handle)

    def acct(self, handle: str) -> str:
        return f"{handle}@{self.host}"


@contextlib.asynccontextmanager
async def running(address: str, *, tmp_path: Path, sqlite_template: Path, real: dict[str, str] | None = None,
                  **overrides: Any) -> AsyncIterator[Server]:
    """A server on ``address``: on the embedded stack, or with ``real`` (``tests.conftest.real_stack``)
    on PostgreSQL, S3, Redis and JetStream."""
    import uvicorn

    from clipfeed.api import create_app
    from clipfeed.bootstrap import bootstrap
    from clipfeed.workers import run_role

    port = engines.free_port()
    url = f"http://{address}:{port}"
    data_dir = tmp_path / address
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, log_json=False, host=address, port=port, public_url=url,
                        federation_allow_http=True, **(real or {}), **overrides)
    for database in [settings.database_url, *settings.database_shard_urls]:
        engines.migrate_from_template(settings.resolve(database), sqlite_template)
    services = await bootstrap(settings)
    server = uvicorn.Server(uvicorn.Config(create_app(services=services), host=address, port=port,
                                           log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    roles = [asyncio.create_task(run_role(role, stop, services=services)) for role in ("federation", "stream")]
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield Server(url=url, host=f"{address}:{port}", client=client, services=services)
    finally:
        stop.set()
        await asyncio.gather(*roles, return_exceptions=True)
        server.should_exit = True
        await asyncio.wait_for(serving, 15)
        await services.close()
        if settings.log_url.startswith("nats://"):
            nats, _, query = settings.log_url.partition("?")
            await engines.drop_jetstream_streams(nats, prefix=query.removeprefix("prefix="))
