"""``clipfeed recs …``: offline evaluation, the model registry, training, re-indexing, the
user simulator and A/B readouts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

recs_cli = typer.Typer(help="Recommendations: evaluation, models, training, simulation, A/B.", no_args_is_help=True)
models_cli = typer.Typer(help="The ranker's model registry.", no_args_is_help=True)
recs_cli.add_typer(models_cli, name="models")
console = Console(stderr=True)


def _services_run(job: Any) -> Any:
    from clipfeed.bootstrap import run_with_services

    return run_with_services(job)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console)


@recs_cli.command("eval")
def evaluate(
    data: Annotated[Path | None, typer.Option(help="folder with ml-100k.inter (default: fetch into the cache)")] = None,
    fetch: Annotated[bool, typer.Option(help="download MovieLens 100K when --data is missing")] = True,
    markdown: Annotated[Path | None, typer.Option(help="also write the results table here")] = None,
    split: Annotated[str, typer.Option(help="user: each user's latest 20 % test; global: one cut in time")] = "user",
    tune: Annotated[bool, typer.Option(help="tune every baseline on validation (--no-tune: recorded winners)")] = True,
    search_ranker: Annotated[bool, typer.Option(help="run the ranker's recorded search instead")] = False,
) -> None:
    """Our pipeline against popularity, item-CF, EASE, ALS and BPR on MovieLens 100K, one run."""
    from clipfeed.recs.offline.dataset import default_cache, fetch_ml100k, load_ml100k
    from clipfeed.recs.offline.run import SPLITS, run_eval, run_search

    if split not in SPLITS:
        console.print(f"[red]unknown split {split!r}[/] (one of {', '.join(SPLITS)})")
        raise typer.Exit(2)
    folder = data or default_cache()
    if not (folder / "ml-100k.inter").is_file():
        if not fetch:
            console.print(f"[red]no ml-100k.inter in {folder}[/] (drop --no-fetch to download it)")
            raise typer.Exit(2)
        with console.status("fetching MovieLens 100K (the recbole wheel from the package index)"):
            folder = fetch_ml100k(folder)
    with _progress() as progress:
        task = progress.add_task("loading", total=None)

        def report(message: str) -> None:
            progress.update(task, description=message)
            if search_ranker:
                progress.console.print(message, soft_wrap=True)

        if search_ranker:
            best, trials = run_search(load_ml100k(folder), progress=report)
        else:
            result = run_eval(load_ml100k(folder), split=split, tune=tune, progress=report)
    if search_ranker:
        lines = ["| trial | setting | validation ndcg@10 |", "|---:|---|---:|"]
        lines += [f"| {n} | {_point(t.point)} | {t.ndcg:.4f} |" for n, t in enumerate(trials, 1)]
        text = "\n".join(lines) + f"\n\nbest: {_point(best)}\n"
    else:
        text = result.table() + "\n\n" + result.summary() + "\n"
    typer.echo(text)
    if markdown:
        markdown.write_text(text)


def _point(point: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in point.items())


@recs_cli.command("train")
def train(days: Annotated[int, typer.Option(help="days of impressions to learn from")] = 14,
          promote: Annotated[bool, typer.Option(help="promote the new ranker if it is no worse")] = True) -> None:
    """Close pending impressions, then retrain retrieval and the ranker now."""
    from clipfeed.recs import training

    async def job(*, services: Any) -> Any:
        closed = await training.close_impressions(older_than=0, services=services)
        report = await training.train(days=days, promote=promote, services=services)
        return {"closed": closed, **report}

    with console.status("training"):
        report = _services_run(job)
    typer.echo(report)
    if "ranker_skipped" in report:
        console.print(f"[yellow]no ranker trained[/]: {report['ranker_skipped']}", soft_wrap=True)


@recs_cli.command("reindex")
def reindex() -> None:
    """Rebuild every clip card and pool from the metadata store now. Stream workers do it by
    themselves within ``CLIPFEED_FEED_CARDS_CHECK_INTERVAL_S`` of finding cards lost; this is
    for an operator who will not wait. Idempotent; safe to interrupt and run again."""
    from clipfeed.recs.upkeep import rebuild_lease, rebuild_under

    async def job(*, services: Any) -> int | None:
        async with rebuild_lease(services.cache) as lease:
            if lease is None:
                return None
            with _progress() as progress:
                task = progress.add_task("indexing clips")
                return await rebuild_under(lease, services=services, progress=lambda total: progress.update(
                    task, description=f"indexed {total} clips"))

    total = _services_run(job)
    if total is None:
        console.print("a stream worker is rebuilding the cards now (it holds the lease recs:cards:rebuild): "
                      "they are back when it logs recs.cards_rebuilt")
        return
    typer.echo(f"indexed {total} clips")


@models_cli.command("list")
def models_list() -> None:
    """Every model in the registry, with its metrics and training window."""
    from clipfeed.recs import registry

    index = _services_run(lambda s: registry.read_index(s.blobs))
    table = Table("version", "state", "created", "metrics", "window")
    for version, info in sorted(index["models"].items()):
        state = "current" if version == index["current"] else "shadow" if version == index.get("shadow") else ""
        metrics = ", ".join(f"{k}={v:.3f}" for k, v in info.get("metrics", {}).items())
        window = info.get("training_window", {})
        table.add_row(version, state, info.get("created_at", "")[:19], metrics,
                      f"{window.get('from', '')[:16]} … {window.get('to', '')[:16]}")
    Console().print(table)
    if not index["current"]:
        console.print("no model promoted: feeds use the heuristic ranker")


@models_cli.command("promote")
def models_promote(version: str) -> None:
    """Serve ``version`` from now on (processes pick it up within ``feed_model_poll_s``)."""
    from clipfeed.recs import registry

    _services_run(lambda s: registry.promote_model(s.blobs, version))
    typer.echo(f"promoted {version}")


@models_cli.command("rollback")
def models_rollback() -> None:
    """Serve the previously promoted model again."""
    from clipfeed.recs import registry

    version = _services_run(lambda s: registry.rollback_model(s.blobs))
    typer.echo(f"now serving {version or 'the heuristic ranker'}")


@models_cli.command("shadow")
def models_shadow(version: Annotated[str | None, typer.Argument(help="omit to stop shadow scoring")] = None) -> None:
    """Score ``version`` beside the current model without serving it (metric
    ``clipfeed_feed_shadow_overlap``)."""
    from clipfeed.recs import registry

    _services_run(lambda s: registry.set_shadow(s.blobs, version))
    typer.echo(f"shadow: {version or 'none'}")


@recs_cli.command("simulate")
def simulate(viewers: Annotated[int, typer.Option(help="synthetic viewers (signed in over HTTP)")] = 24,
             sessions: Annotated[int, typer.Option(help="sessions per viewer; tastes shift halfway")] = 4,
             seeds: Annotated[str, typer.Option(help="comma-separated seeds; mean and 95 % interval over them")]
             = "7,8,9",
             catalogue: Annotated[int, typer.Option(help="clips before the first session")] = 240,
             arrivals: Annotated[int, typer.Option(help="new clips before each session")] = 24,
             tag_noise: Annotated[float, typer.Option(help="share of clips whose hashtag names a wrong topic")] = 0.3,
             arms: Annotated[str, typer.Option(help="comma-separated arms (foryou and the baselines)")] = "all",
             ) -> None:
    """Synthetic viewers drive a scratch ``clipfeed serve`` over HTTP (one server per arm and
    seed) on For You and on baseline feeds; prints watch time, topic shares, fresh exposure and
    repeats per arm, with For You's ratio to the best baseline."""
    from clipfeed.recs.sim.lineup import ARMS
    from clipfeed.recs.sim.run import run_comparison
    from clipfeed.recs.sim.world import WorldConfig

    chosen = list(ARMS) if arms == "all" else [a.strip() for a in arms.split(",")]
    unknown = [a for a in chosen if a not in ARMS]
    if unknown:
        raise typer.BadParameter(f"unknown arms {unknown}; known: {', '.join(ARMS)}")
    config = WorldConfig(viewers=viewers, sessions=sessions, catalogue=catalogue, arrivals=arrivals,
                         tag_noise=tag_noise)
    with _progress() as bar:
        task = bar.add_task("starting")
        report = asyncio.run(run_comparison([ARMS[a] for a in chosen], config=config,
                                            seeds=[int(s) for s in seeds.split(",")],
                                            progress=lambda text: bar.update(task, description=text)))
    typer.echo(report.table())


@recs_cli.command("ab-report")
def ab_report(experiment: str, days: Annotated[int, typer.Option(help="days of impressions")] = 14,
              metric: Annotated[str, typer.Option(help="watch_ms, complete, like or share")] = "watch_ms",
              source: Annotated[str, typer.Option(help="lake (training rows of the analytics lake) or "
                                                  "impressions (the feed's own impression log)")] = "lake",
              ) -> None:
    """Per-arm mean of ``metric`` per impression with 95 % confidence intervals."""
    from clipfeed.recs import experiments

    async def job(*, services: Any) -> Any:
        found = {e.name: e for e in experiments.load_experiments(services.settings.feed_experiments_file)}
        if experiment not in found:
            raise typer.BadParameter(f"no experiment {experiment!r} in CLIPFEED_FEED_EXPERIMENTS_FILE")
        viewers, values = await experiments.impression_metric(metric=metric, days=days, source=source,
                                                              services=services)
        return experiments.readout(viewers, values, found[experiment], metric=metric)

    table = Table("arm", "viewers", "impressions", f"mean {metric}", "95% CI")
    for arm in _services_run(job):
        table.add_row(arm.arm, str(arm.viewers), str(arm.impressions), f"{arm.mean:.3f}",
                      f"[{arm.low:.3f}, {arm.high:.3f}]")
    Console().print(table)
