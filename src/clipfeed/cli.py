"""The ``clipfeed`` command: ``serve``, ``migrate``, ``admin``, ``demo``."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from clipfeed.settings import Settings

app = typer.Typer(help="Clipfeed: a self-hostable short-video platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
admin = typer.Typer(help="Operator tasks: users and roles.", no_args_is_help=True)
app.add_typer(admin, name="admin")
console = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


@app.command()
def migrate() -> None:
    """Bring every database (main and shards) to the newest schema."""
    from clipfeed.infra.db.migrate import upgrade

    settings = _settings()
    for url in [settings.resolve(settings.database_url),
                *(settings.resolve(u) for u in settings.database_shard_urls)]:
        with console.status(f"migrating {_redact(url)}"):
            upgrade(url)
        console.print(f"[green]up to date[/]: {_redact(url)}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind")] = None,
    processes: Annotated[int, typer.Option(help="API processes (stateless, share the port)")] = 1,
    migrate_first: Annotated[bool | None, typer.Option(
        "--migrate/--no-migrate", help="run migrations first (default: on for SQLite)")] = None,
) -> None:
    """Run the HTTP API."""
    import uvicorn

    from clipfeed.infra.db.migrate import missing_heads, upgrade

    settings = _settings()
    url = settings.resolve(settings.database_url)
    if migrate_first or (migrate_first is None and url.startswith("sqlite")):
        for db_url in [url, *(settings.resolve(u) for u in settings.database_shard_urls)]:
            upgrade(db_url)
    elif missing_heads(url):
        console.print("[red]the database schema is not current[/]: run `clipfeed migrate` first")
        raise typer.Exit(2)
    from clipfeed.logs import configure

    configure(settings.log_level, json=settings.log_json)
    uvicorn.run("clipfeed.api:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=processes, log_level="warning",
                proxy_headers=True, timeout_graceful_shutdown=10)


@app.command()
def worker(role: Annotated[str, typer.Argument(help="stream | media | batch | lifecycle")]) -> None:
    """Run a worker role until interrupted (Ctrl+C or SIGTERM finish the current batch)."""
    import signal

    from clipfeed.bootstrap import running
    from clipfeed.logs import configure
    from clipfeed.workers import PROCESSORS, roles, run_role

    if role not in PROCESSORS:
        console.print(f"[red]unknown role {role!r}[/]; known: {', '.join(PROCESSORS)}")
        raise typer.Exit(2)
    if role not in roles():
        console.print(f"[red]nothing is registered for the {role!r} role in this version[/]")
        raise typer.Exit(2)
    settings = _settings()
    configure(settings.log_level, json=settings.log_json)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running(settings) as services:
            await run_role(services, role, stop)

    _run(run())


@admin.command("create-user")
def create_user(handle: str, email: str,
                password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                                      confirmation_prompt=True)],
                moderator: bool = False) -> None:
    """Create an account (optionally a moderator)."""
    from clipfeed.accounts import service
    from clipfeed.accounts.models import RegisterRequest, Role
    from clipfeed.bootstrap import running

    try:
        RegisterRequest(handle=handle, email=email, password=password)
    except ValueError as exc:
        console.print(f"[red]invalid[/]: {exc}")
        raise typer.Exit(2) from exc

    async def run() -> None:
        async with running(_settings()) as s:
            user = await service.create_user(
                db=s.db, outbox=s.outbox, ids=s.ids, settings=s.settings, handle=handle,
                email=email, password=password, role=Role.moderator if moderator else Role.user)
            console.print(f"created @{user.handle} (id {user.id}, role {user.role})")

    _run(run())


@admin.command("make-moderator")
def make_moderator(handle: str, revoke: bool = typer.Option(False, help="back to a plain user")) -> None:
    """Give (or take back) moderator rights."""
    from clipfeed.accounts import service
    from clipfeed.accounts.models import Role
    from clipfeed.bootstrap import running

    async def run() -> None:
        async with running(_settings()) as s:
            user = await service.set_role(db=s.db, handle=handle,
                                          role=Role.user if revoke else Role.moderator)
            console.print(f"@{user.handle} is now {user.role}")

    _run(run())


@app.command()
def demo(port: Annotated[int, typer.Option(help="port to serve on")] = 8000) -> None:
    """Start everything on embedded defaults with sample content, and print the URL."""
    from clipfeed.demo import run_demo

    run_demo(_settings(), port=port, console=console)


def _run(coro: object) -> None:
    from clipfeed.core.errors import ClipfeedError

    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except ClipfeedError as exc:
        console.print(f"[red]{exc.title}[/]: {exc.detail}")
        raise typer.Exit(1) from exc


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url
    return url


def main() -> None:
    app(prog_name="clipfeed")


if __name__ == "__main__":
    main()
