"""``clipfeed storage report | lifecycle | repair | replicate``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from clipfeed.runtime.services import ServicesJob

T = TypeVar("T")
storage_cli = typer.Typer(help="Storage tiers: cost report, lifecycle moves, repair, replication.",
                          no_args_is_help=True)
console = Console()


def _with_services(job: ServicesJob[T]) -> T:
    from clipfeed.bootstrap import running
    from clipfeed.settings import Settings

    async def run() -> T:
        async with running(Settings()) as services:
            return await job(services=services)

    return asyncio.run(run())


@storage_cli.command("report")
def report_command() -> None:
    """Bytes and estimated monthly cost per tier, and what the lifecycle saves vs all-hot."""
    from clipfeed.storage import report

    with console.status("listing the tiers"):
        built = _with_services(report.build)
    table = Table(title="Storage by tier (prices: CLIPFEED_STORAGE_PRICES, USD per GB-month)")
    for column in ("tier", "objects", "GB", "$/GB-month", "$/month"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    for line in built.lines:
        table.add_row(line.name, f"{line.objects:,}", f"{line.bytes / report.GB:,.3f}",
                      f"{line.price_gb_month:.4f}", f"{line.monthly:,.2f}")
    table.add_row("total", "", "", "", f"{built.monthly:,.2f}", style="bold")
    console.print(table)
    saved = built.saved_monthly
    share = saved / built.all_hot_monthly * 100 if built.all_hot_monthly else 0.0
    console.print(f"All hot (incl. {built.dropped_bytes / report.GB:,.3f} GB of renditions dropped in cold) would "
                  f"cost ${built.all_hot_monthly:,.2f}/month: the policy saves ${saved:,.2f}/month ({share:.0f}%).")


@storage_cli.command("lifecycle")
def lifecycle_command(
    now: Annotated[str | None, typer.Option(help="ISO time to evaluate the policy at (default: now)")] = None,
) -> None:
    """One lifecycle run: finish interrupted moves, then apply the tier policy to every clip."""
    from clipfeed.storage import lifecycle

    when = datetime.fromisoformat(now).astimezone(UTC) if now else datetime.now(UTC)
    with console.status("applying the lifecycle policy"):
        result = _with_services(partial(lifecycle.run, now=when))
    console.print(f"moves: {result.moves or 'none'}; swept {result.swept} objects of deleted clips; "
                  f"re-transcodes asked: {result.retranscodes}; repaired: {result.repaired}")


@storage_cli.command("repair")
def repair_command() -> None:
    """Finish moves a killed process left half-done and remove duplicate copies."""
    from clipfeed.storage import moves

    with console.status("repairing"):
        result = _with_services(partial(moves.repair, now=datetime.now(UTC)))
    console.print(f"resumed {result['resumed']} moves, settled {result['settled']} stray copies")


@storage_cli.command("replicate")
def replicate_command() -> None:
    """Bring the replica in line with the hot tier (the replication repair job)."""
    from clipfeed.storage import replication

    with console.status("reconciling the replica"):
        result = _with_services(replication.reconcile)
    console.print(f"copied {result.copied}, deleted {result.deleted}, {result.in_sync} already in sync")
