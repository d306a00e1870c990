"""``clipfeed edge``: run an nginx edge cache with its purge agent in front of an origin."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)


def edge(
    origin: Annotated[str, typer.Option(help="origin host:port (a `clipfeed serve`)")],
    listen: Annotated[str, typer.Option(help="address:port to serve on")] = "127.0.0.1:8080",
    folder: Annotated[Path, typer.Option("--dir", help="working folder: config, cache, logs")] = Path("var/edge"),
    agent_port: Annotated[int, typer.Option(help="loopback port of the purge agent")] = 8099,
    cache_max: Annotated[str, typer.Option(help="cache size cap (nginx size, e.g. 10g)")] = "10g",
    workers: Annotated[int, typer.Option(help="nginx worker processes")] = 1,
    template: Annotated[Path | None, typer.Option(help="nginx template (default: the packaged edge.conf)")] = None,
) -> None:
    """Run nginx as an edge cache (clipfeed/delivery/edge.conf) until Ctrl+C or SIGTERM. The signing
    keys and the purge secret come from the same settings as the origin's."""
    from clipfeed.delivery.edge_server import TEMPLATE, EdgeSpec, running_edge
    from clipfeed.delivery.signing import Signer
    from clipfeed.settings import Settings

    settings = Settings()
    if not settings.edge_purge_secret:
        console.print("[red]set CLIPFEED_EDGE_PURGE_SECRET[/] (shared with the origin) to accept purges")
        raise typer.Exit(2)
    keys = list(Signer.from_settings(settings).accepted.values())
    spec = EdgeSpec(origin=origin, listen=listen, folder=folder.resolve(), keys=keys,
                    purge_secret=settings.edge_purge_secret,
                    agent_port=agent_port, cache_max=cache_max, workers=workers, template=template or TEMPLATE)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with running_edge(spec):
        console.print(f"edge serving on [bold]{spec.url}[/] for origin {origin} (cache in {spec.cache_dir})")
        stop.wait()
