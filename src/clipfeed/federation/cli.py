"""``clipfeed federation …``: the delivery queue and each remote server's health, domain
policies (one server or a list from a file), and a look-up of a remote account."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

federation_cli = typer.Typer(help="Federation: queues, remote servers, domain policies.", no_args_is_help=True)
console = Console()


def _run(job: Any) -> Any:
    from clipfeed.bootstrap import run_with_services

    return run_with_services(job)


@federation_cli.command("status")
def status() -> None:
    """Deliveries waiting, and per remote server: its policy, deliveries queued and failing,
    the last success and failure, whether we gave up on it (dead)."""
    from clipfeed.federation import admin

    report = _run(admin.status)
    console.print(f"mode: {report.mode}   deliveries waiting: {report.waiting}   "
                  f"activities received (last hour): {report.received_last_hour}")
    table = Table("server", "policy", "queued", "retrying", "last success", "last failure", "failures", "dead")
    for row in report.servers:
        table.add_row(row.server, row.policy, str(row.queued), str(row.retrying), _when(row.last_success_at),
                      _when(row.last_failure_at), str(row.failures), "yes" if row.dead else "")
    console.print(table)


@federation_cli.command("policy")
def set_policy(
    policy: Annotated[str, typer.Argument(help="none, allow, silence, reject_media or suspend")],
    servers: Annotated[list[str] | None, typer.Argument(help="host names (with :port when not the default)")] = None,
    from_file: Annotated[Path | None, typer.Option(
        "--from", help="a file of host names, one per line ('#' starts a comment; CSV: the first column)")] = None,
    software: Annotated[str | None, typer.Option(
        help="every server running this software (its NodeInfo name: mastodon …), met so far or later")] = None,
) -> None:
    """Set the policy of remote servers, given by name or listed in a file (a blocklist others
    publish); ``suspend`` also removes what is stored from them."""
    from clipfeed.federation import admin
    from clipfeed.federation.models import DomainPolicy

    try:
        chosen = DomainPolicy(policy)
    except ValueError:
        raise typer.BadParameter(f"unknown policy {policy!r}") from None
    names = list(servers or []) + (admin.parse_list(from_file.read_text()) if from_file else [])
    if not names and not software:
        raise typer.BadParameter("name servers, or give --from FILE or --software NAME")

    async def job(*, services: Any) -> list[tuple[str, str]]:
        done = await admin.apply_policy(names, chosen, services=services)
        return done + (await admin.apply_to_software(software, chosen, services=services) if software else [])

    for server, outcome in _run(job):
        console.print(f"{server}: {outcome}")


@federation_cli.command("media")
def set_media(
    mode: Annotated[str, typer.Argument(help="stream (from the server), cache (here), or default (the instance's)")],
    servers: Annotated[list[str], typer.Argument(help="host names (with :port when not the default)")],
) -> None:
    """How the clips of these servers are played: streamed from them, or cached and re-packaged
    here. Clips stored from now on follow it; those cached already stay cached."""
    from clipfeed.core.errors import Invalid
    from clipfeed.federation import admin, media_cache
    from clipfeed.federation.models import MediaMode

    if mode not in ("stream", "cache", "default"):
        raise typer.BadParameter(f"unknown media setting {mode!r}")
    chosen = None if mode == "default" else MediaMode(mode)
    try:
        names = [admin.checked_server(name) for name in servers]
    except Invalid as exc:
        raise typer.BadParameter(exc.detail) from None

    async def job(*, services: Any) -> list[str]:
        for name in names:
            await media_cache.set_mode(name, chosen, services=services)
        return [f"{name}: {(await media_cache.mode_for(name, services=services)).value}" for name in names]

    for line in _run(job):
        console.print(line)


@federation_cli.command("rotate-key")
def rotate_key(handle: Annotated[str, typer.Argument(help="the local account whose signing key is replaced")]) -> None:
    """Replace an account's signing key (it leaked, or on a schedule) and send the new one to
    the servers where it has followers."""
    from clipfeed.accounts import service as accounts
    from clipfeed.federation import keys, outbox

    async def job(*, services: Any) -> int:
        user = await accounts.get_by_handle(db=services.db, handle=handle)
        if user.domain is not None:
            raise typer.BadParameter(f"{handle} is an account of another server")
        await keys.rotate(user.id, services=services)
        return await outbox.send_profile(user.id, event_id=services.ids.next_id(), services=services)

    sent = _run(job)
    console.print(f"new key for @{handle}; the update goes to {sent} server(s)")


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"
