"""``clipfeed search …``: rebuild the index, block words from suggestions, try a query."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

search_cli = typer.Typer(help="Search: rebuild the index, the suggestion block list.", no_args_is_help=True)
console = Console(stderr=True)


def _services_run(job: Any) -> Any:
    from clipfeed.bootstrap import run_with_services

    return run_with_services(job)


@search_cli.command("reindex")
def reindex() -> None:
    """Rebuild the search index from the users and clips tables (searches keep working on the
    rows already rebuilt while it runs)."""
    from clipfeed.federation.service import discovery_rule
    from clipfeed.infra.search import open_search_index
    from clipfeed.search.indexing import rebuild

    async def job(*, services: Any) -> int:
        with Progress(TextColumn("indexing clips"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("clips", total=None)
            return await rebuild(db=services.db, index=open_search_index(services.db),
                                 progress=lambda n: progress.advance(task, n),
                                 remote=await discovery_rule(services=services))

    total = _services_run(job)
    console.print(f"indexed {total} clips")


@search_cli.command("block")
def block(word: Annotated[str, typer.Argument(help="a word never to suggest (queries containing it)")]) -> None:
    """Never suggest a past query containing WORD."""
    from clipfeed.search import querylog

    async def job(*, services: Any) -> None:
        await querylog.block(db=services.db, word=word)

    _services_run(job)
    console.print(f"blocked {word!r} from suggestions")
