"""The ``clipfeed`` command: ``serve``, ``migrate``, ``admin``, ``demo``."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from clipfeed.settings import Settings

if TYPE_CHECKING:
    from clipfeed.infra.db import Database

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
    role: Annotated[str, typer.Option(help="all | origin (only /media/ and health checks)")] = "all",
) -> None:
    """Run the HTTP API."""
    import uvicorn

    from clipfeed.infra.db.migrate import missing_heads, upgrade

    settings = _settings()
    if processes > 1 and settings.node_id >= 0:
        # Every serving process would make IDs as the same node: two rows created in the same
        # millisecond could get the same ID.
        console.print("[red]CLIPFEED_NODE_ID names one process[/]: with --processes, leave it unset (each "
                      "process takes one from its PID) or run one `clipfeed serve` per node ID")
        raise typer.Exit(2)
    url = settings.resolve(settings.database_url)
    if migrate_first or (migrate_first is None and url.startswith("sqlite")):
        for db_url in [url, *(settings.resolve(u) for u in settings.database_shard_urls)]:
            upgrade(db_url)
    elif missing_heads(url):
        console.print("[red]the database schema is not current[/]: run `clipfeed migrate` first")
        raise typer.Exit(2)
    from clipfeed.logs import configure

    configure(settings.log_level, json=settings.log_json)
    factory = {"all": "clipfeed.serving:api", "origin": "clipfeed.serving:origin"}.get(role)
    if factory is None:
        console.print(f"[red]unknown role {role!r}[/]: all | origin")
        raise typer.Exit(2)
    if processes > 1:
        from clipfeed.http.metrics import share_between_processes

        share_between_processes(settings.data_dir.resolve() / "run" / f"metrics-{port or settings.port}")
    # uvicorn drains on SIGTERM (stops listening, finishes requests in flight within
    # ``drain_grace_s``), then raises the signal again for the handler it found: this one, so
    # a drained server exits 0 rather than "killed by SIGTERM", which supervisors read as a crash.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # log_config=None: uvicorn keeps its hands off logging, which ``configure`` set up (and
    # each serving process sets up again in ``clipfeed.serving``).
    options = dict(factory=True, host=host or settings.host, port=port or settings.port, workers=processes,
                   log_level="warning", log_config=None, proxy_headers=True,
                   timeout_graceful_shutdown=settings.drain_grace_s)
    if processes > 1:
        from clipfeed.serving import run_processes

        # Past the drain and the in-process workers' stop, a process still alive is killed.
        run_processes(uvicorn.Config(factory, **options),  # type: ignore[arg-type]
                      stop_within=settings.drain_grace_s + settings.worker_stop_grace_s + 10)
    else:
        uvicorn.run(factory, **options)  # type: ignore[arg-type]


def _exit_cleanly(_signal: int, _frame: object) -> None:
    raise SystemExit(0)


@app.command()
def worker(role: Annotated[str, typer.Argument(help="stream | media | batch | lifecycle")]) -> None:
    """Run a worker role until interrupted (Ctrl+C or SIGTERM finish the current batch)."""
    from clipfeed.bootstrap import running
    from clipfeed.logs import configure
    from clipfeed.workers import roles, run_role

    if role not in roles():
        console.print(f"[red]unknown role {role!r}[/]; known: {', '.join(roles())}")
        raise typer.Exit(2)
    settings = _settings()
    configure(settings.log_level, json=settings.log_json)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running(settings) as services:
            await run_role(role, stop, services=services)

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


def _set_role(handle: str, role_name: str) -> None:
    from clipfeed.accounts import service
    from clipfeed.accounts.models import Role
    from clipfeed.bootstrap import running

    async def run() -> None:
        async with running(_settings()) as s:
            user = await service.set_role(db=s.db, cache=s.cache, handle=handle, role=Role(role_name))
            console.print(f"@{user.handle} is now {user.role}")

    _run(run())


@admin.command("make-moderator")
def make_moderator(handle: str, revoke: bool = typer.Option(False, help="back to a plain user")) -> None:
    """Give (or take back) moderator rights."""
    _set_role(handle, "user" if revoke else "moderator")


@admin.command("make-admin")
def make_admin(handle: str, revoke: bool = typer.Option(False, help="back to a plain user")) -> None:
    """Give (or take back) admin rights: the admin console (/admin) and everything moderators do."""
    _set_role(handle, "user" if revoke else "admin")


@app.command()
def demo(port: Annotated[int, typer.Option(help="port to serve on")] = 8000) -> None:
    """Start everything on embedded defaults with sample content, and print the URL."""
    from clipfeed.demo.run import run_demo

    run_demo(_settings(), port=port, console=console)


events_cli = typer.Typer(help="The event log: replay groups to rebuild derived state.", no_args_is_help=True)
lake_cli = typer.Typer(help="The analytics lake: batch jobs on DuckDB or Spark.", no_args_is_help=True)
app.add_typer(events_cli, name="events")
app.add_typer(lake_cli, name="lake")


@events_cli.command("replay")
def events_replay(
    topic: Annotated[str, typer.Option(help="topic the group reads, e.g. activity.clips")],
    group: Annotated[str, typer.Option(help="consumer group, e.g. stream-clips")],
    start: Annotated[str, typer.Option("--from", help="earliest | an offset | an ISO 8601 time")] = "earliest",
    rebuild: Annotated[bool, typer.Option(help="wipe the group's derived state first")] = False,
    run: Annotated[bool, typer.Option(help="process here until caught up (else running workers do)")] = False,
) -> None:
    """Move a consumer group back to re-read its topic. Stop the group's workers first."""
    from rich.progress import Progress

    from clipfeed.bootstrap import running
    from clipfeed.stream.replay import Start, replay

    async def go() -> None:
        async with running(_settings(), relay=False) as services:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"replaying {group}", total=None)

                def show(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total,
                                    description=f"replaying {group}: partitions caught up")

                await replay(services=services, topic=topic, group=group, start=Start.parse(start),
                             rebuild=rebuild, run=run, on_progress=show)
        console.print(f"[green]replayed[/] {group} on {topic} from {start}"
                      + (" (rebuilt)" if rebuild else "") + ("" if run else "; running workers will catch up"))

    _run(go())


@lake_cli.command("run")
def lake_run(
    first: Annotated[str, typer.Option("--from", help="first UTC day, YYYY-MM-DD")],
    last: Annotated[str | None, typer.Option("--to", help="last UTC day (default: --from)")] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb | spark (default: CLIPFEED_LAKE_ENGINE)")] = None,
) -> None:
    """Recompute aggregates, creator analytics and training data for a range of days."""
    from datetime import date

    from clipfeed.bootstrap import running
    from clipfeed.lake.service import run_jobs

    async def go() -> None:
        async with running(_settings(), relay=False) as services:
            with console.status(f"running the lake jobs on {engine or services.settings.lake_engine}"):
                report, _ = await run_jobs(services=services, from_day=date.fromisoformat(first),
                                           to_day=date.fromisoformat(last or first), engine=engine)
        console.print(f"[green]done[/] in {report.seconds:.1f} s on {report.engine}: {report.files} part(s); "
                      + ", ".join(f"{name} {rows}" for name, rows in report.rows.items()))

    _run(go())


@app.command("login")
def login_command(
    login: Annotated[str, typer.Option("--login", prompt=True, help="handle or e-mail")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    server: Annotated[str | None, typer.Option(help="server URL (default: CLIPFEED_PUBLIC_URL)")] = None,
    debug: Annotated[bool, typer.Option(help="show the traceback of a failure")] = False,
) -> None:
    """Sign in and keep the tokens (owner-only file in your config folder) for `clipfeed upload`."""
    from clipfeed.uploads import client
    from clipfeed.uploads.command import one_line_failures

    with one_line_failures(debug, console):
        credentials = client.login(server or _settings().base_url, login, password)
    console.print(f"signed in to {credentials.server}; tokens saved in {client.save_credentials(credentials)}")


@app.command("upload")
def upload_command(
    file: Annotated[Path, typer.Argument(help="the video to upload", dir_okay=False)],
    caption: Annotated[str, typer.Option(help="caption (#hashtags in it count)")] = "",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="a hashtag; repeat for more")] = None,
    visibility: Annotated[str, typer.Option(help="public | unlisted | private")] = "public",
    clip: Annotated[str | None, typer.Option("--clip", help="attach to this draft clip ID")] = None,
    server: Annotated[str | None, typer.Option(
        help="server URL (default: saved login, else CLIPFEED_PUBLIC_URL)")] = None,
    token: Annotated[str | None, typer.Option(help="access token (default: the saved login)")] = None,
    login: Annotated[str | None, typer.Option("--login", help="sign in with this handle or e-mail")] = None,
    password: Annotated[str | None, typer.Option(help="password for --login (asked when missing)")] = None,
    chunk_size: Annotated[int, typer.Option(help="bytes per request (5 MiB by default)")] = 5 * 1024 * 1024,
    compress: Annotated[bool, typer.Option(help="re-encode files over 200 MB or above 1080p first")] = False,
    wait: Annotated[bool, typer.Option(
        help="follow processing until the clip is ready, held for review, rejected or failed")] = False,
    debug: Annotated[bool, typer.Option(help="show the traceback of a failure")] = False,
) -> None:
    """Upload a video with tus; run the same command again to resume an interrupted upload."""
    from clipfeed.uploads import client, command
    from clipfeed.uploads.command import one_line_failures

    with one_line_failures(debug, console):
        saved = client.load_credentials()
        base = (server or (saved.server if saved else None) or _settings().base_url).rstrip("/")
        if login:
            credentials = client.login(base, login, password or typer.prompt("password", hide_input=True))
        elif token:
            credentials = client.Credentials(server=base, access_token=token)
        elif saved is not None and saved.server == base:
            credentials = saved
        else:
            raise client.ClientError(f"not signed in to {base}: run `clipfeed login` or pass --token/--login")
        metadata = {"filename": file.name, "caption": caption, "hashtags": " ".join(tag or []),
                    "visibility": visibility, **({"clip_id": clip} if clip else {})}
        command.run(file, credentials=credentials, metadata=metadata, chunk_size=chunk_size,
                    compress=compress, wait=wait, console=console)


shards_cli = typer.Typer(help="Shard databases: where virtual shards live, and moving them online.",
                         no_args_is_help=True)
app.add_typer(shards_cli, name="shards")


@shards_cli.command("status")
def shards_status(as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Virtual shards, fences and rows per shard database."""
    import json

    from clipfeed.infra.db import moves

    settings = _settings()

    async def show() -> None:
        db = _shard_db(settings)
        try:
            found = await moves.status(db)
        finally:
            await db.close()
        if as_json:
            typer.echo(json.dumps(found))
            return
        console.print(f"{found['virtual_shards']} virtual shards; map "
                      f"{'pinned' if found['pinned'] else 'by default ranges'}; moves "
                      f"{'possible' if found['moves_possible'] else 'need PostgreSQL shard databases'}")
        for entry in found["databases"]:
            rows = sum(entry["rows"].values())
            extra = f", fenced: {entry['fenced']}" if entry["fenced"] else ""
            extra += f", {entry['capture_triggers']} capture triggers left" if entry["capture_triggers"] else ""
            console.print(f"  [{entry['index']}] {entry['url']}: {entry['vshards']} virtual shards, {rows} rows{extra}")

    _run(show())


@shards_cli.command("locate")
def shards_locate(key: Annotated[int, typer.Argument(help="a user ID or clip ID (the shard key)")]) -> None:
    """The virtual shard and database of a key."""
    settings = _settings()

    async def show() -> None:
        db = _shard_db(settings)
        try:
            await db.load_shard_map()
            shard = db.router.shard_of(key)
            console.print(f"key {key}: virtual shard {shard}, shard database {db.router.database_of_shard(shard)}")
        finally:
            await db.close()

    _run(show())


@shards_cli.command("move")
def shards_move(vshard: Annotated[int, typer.Argument(help="the virtual shard to move")],
                to: Annotated[int, typer.Option("--to", help="the shard database (its position in "
                                                              "CLIPFEED_DATABASE_SHARD_URLS, from 0)")]) -> None:
    """Move a virtual shard to another shard database while writes go on."""
    from clipfeed.infra.db import moves

    settings = _settings()

    async def run() -> None:
        db = _shard_db(settings)
        try:
            report = await moves.move(db, vshard, to, say=lambda line: console.print(line))
        finally:
            await db.close()
        rows = sum(report.rows.values())
        console.print(f"[green]moved[/] virtual shard {vshard}: {rows} rows, catch-up passes {report.caught_up}, "
                      f"writes paused {report.frozen_s * 1000:.0f} ms, {report.duration_s:.1f} s in all"
                      + (" (resumed an interrupted move)" if report.resumed else ""))

    _run(run())


def _shard_db(settings: Settings) -> Database:
    import clipfeed.schema  # noqa: F401 - every model, so the sharded tables are known
    from clipfeed.infra.db import Database

    return Database(settings.resolve(settings.database_url),
                    shard_urls=[settings.resolve(u) for u in settings.database_shard_urls],
                    virtual_shards=settings.virtual_shards, pool_size=4)


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


def _register_delivery_commands() -> None:  # issue 6: `clipfeed edge`, `clipfeed storage …`
    from clipfeed.delivery.cli import edge
    from clipfeed.storage.cli import storage_cli

    app.command("edge")(edge)
    app.add_typer(storage_cli, name="storage")


_register_delivery_commands()


def _register_recs_commands() -> None:  # issue 9: `clipfeed recs eval|train|models|simulate|…`
    from clipfeed.recs.cli import recs_cli

    app.add_typer(recs_cli, name="recs")


_register_recs_commands()


def _register_search_commands() -> None:  # issue 17: `clipfeed search reindex|block`
    from clipfeed.search.cli import search_cli

    app.add_typer(search_cli, name="search")


_register_search_commands()


def _register_federation_commands() -> None:
    from clipfeed.federation.cli import federation_cli

    app.add_typer(federation_cli, name="federation")


_register_federation_commands()


def _register_cluster_commands() -> None:
    from clipfeed.cluster.cli import cluster_cli

    app.add_typer(cluster_cli, name="cluster")


_register_cluster_commands()


def main() -> None:
    app(prog_name="clipfeed")


if __name__ == "__main__":
    main()
