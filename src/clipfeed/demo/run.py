"""``clipfeed demo``: embedded defaults, sample accounts, one process, a URL to open."""

from __future__ import annotations

import asyncio

import uvicorn
from rich.console import Console

from clipfeed.accounts import service as accounts
from clipfeed.api import create_app
from clipfeed.bootstrap import Services, bootstrap
from clipfeed.core.errors import NotFound
from clipfeed.demo.content import DEMO_PASSWORD, DEMO_USERS
from clipfeed.infra.db.migrate import upgrade
from clipfeed.logs import configure
from clipfeed.settings import Settings


async def seed_accounts(*, services: Services) -> None:
    for handle, email, role in DEMO_USERS:
        try:
            await accounts.get_by_handle(db=services.db, handle=handle)
        except NotFound:
            await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                       settings=services.settings, handle=handle, email=email,
                                       password=DEMO_PASSWORD, role=role)


def run_demo(settings: Settings, *, port: int, console: Console) -> None:
    settings = settings.model_copy(update={"port": port})
    configure(settings.log_level, json=False)
    for url in [settings.resolve(settings.database_url),
                *(settings.resolve(u) for u in settings.database_shard_urls)]:
        upgrade(url)

    async def main() -> None:
        services = await bootstrap(settings)
        try:
            with console.status("seeding demo accounts"):
                await seed_accounts(services=services)
            from clipfeed.workers import roles, run_role

            for role in roles():  # one process: the workers share the in-process cache
                services.spawn(run_role(role, services.stopping, services=services), f"worker-{role}")
            config = uvicorn.Config(create_app(services=services), host=settings.host, port=port,
                                    log_level="warning")
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())
            while not server.started and not serving.done():
                await asyncio.sleep(0.05)
            if server.started:
                url = f"http://{settings.host}:{port}"
                console.print(f"\n[bold green]Clipfeed is running[/] at [link={url}]{url}[/]")
                console.print(f"  API docs: {url}/docs   health: {url}/healthz")
                console.print(f"  sign in as [bold]demo[/] / [bold]{DEMO_PASSWORD}[/]  (Ctrl+C stops)")
                print(url, flush=True)
                from clipfeed.demo.content import seed_with_progress

                services.spawn(seed_with_progress(console, services=services), "demo-content")
            await serving
        finally:
            await services.close()

    asyncio.run(main())
