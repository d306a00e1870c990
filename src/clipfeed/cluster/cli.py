"""``clipfeed cluster up | status | down``: a whole deployment on one machine
(docs/operate/cluster.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from clipfeed.cluster import engines as engine_lib
from clipfeed.cluster import supervise
from clipfeed.cluster.plan import Counts, Plan, make

cluster_cli = typer.Typer(help="Every role of a deployment on one machine, supervised, behind nginx.",
                          no_args_is_help=True)
console = Console(stderr=True)
DEFAULT_DIR = Path("var/cluster")
Folder = Annotated[Path, typer.Option("--dir", help="the cluster's folder: plan, logs, engines' data")]


@cluster_cli.command("up")
def up(
    api: Annotated[int, typer.Option(help="API processes behind the balancer")] = 2,
    media: Annotated[int, typer.Option(help="media workers (transcoding); 0 when they run on other machines")] = 1,
    stream: Annotated[int, typer.Option(help="stream workers (they split the partitions)")] = 1,
    shards: Annotated[int, typer.Option(help="PostgreSQL shard databases beside the main one")] = 2,
    replicas: Annotated[int, typer.Option(help="streaming read replicas of the cluster's own PostgreSQL")] = 0,
    redis: Annotated[int, typer.Option(help="Redis servers of the cluster's own cache ring")] = 1,
    engines: Annotated[str, typer.Option(
        help="auto: the machine's PostgreSQL/Redis/NATS where they answer, else started here; "
             "throwaway: always started here; local: never started here")] = "auto",
    name: Annotated[str, typer.Option(help="names the databases, buckets, streams and cache keys")] = "cluster",
    folder: Folder = DEFAULT_DIR,
    timeout: Annotated[float, typer.Option(help="seconds to wait for everything to be ready")] = 180.0,
) -> None:
    """Start the cluster (or report that it runs) and print its URL once every part is ready."""
    from clipfeed.settings import Settings

    folder = folder.resolve()
    if supervise.running(folder):
        console.print(f"[yellow]a cluster already runs in {folder}[/]: `clipfeed cluster status --dir {folder}`, "
                      "or `down` first to change it")
        raise typer.Exit(0)
    try:
        counts = Counts(api=api, media=media, stream=stream, shards=shards, replicas=replicas, redis=redis)
        plan, engine_programs = make(folder, name, counts, engines)
    except (ValueError, LookupError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    settings = Settings()
    programs = plan.programs(engine_programs, drain_grace_s=settings.drain_grace_s,
                             worker_grace_s=settings.worker_stop_grace_s)
    plan.save()
    conf = folder / "supervisord.conf"
    conf.write_text(supervise.render(programs, folder), encoding="utf-8")
    env = {**os.environ, **plan.settings_env()}
    deadline = time.monotonic() + timeout
    try:
        supervise.start_supervisord(folder, conf, env)
        if engine_programs:
            console.print(f"starting engines: {', '.join(p.name for p in engine_programs if p.group == 'engines')}")
            supervise.start_group(folder, "engines")
            for kind in plan.started:
                engine_lib.wait_ready(engine_lib.Engine(kind, plan.urls[kind]), timeout=_left(deadline))
        server, names = plan.database_server_and_names()
        engine_lib.create_databases(server, names)
        migrate = subprocess.run([sys.executable, "-m", "clipfeed.cli", "migrate"], env=env, capture_output=True,
                                 text=True, timeout=_left(deadline))
        if migrate.returncode:
            raise RuntimeError(f"clipfeed migrate failed:\n{migrate.stdout}{migrate.stderr}")
        if plan.counts.replicas:
            console.print(f"starting {plan.counts.replicas} read replica(s)")
            for replica in plan.replica_names:
                engine_lib.make_replica(folder / "engines" / replica, plan.urls["postgres"])
            supervise.start_group(folder, "replicas")
            for replica in plan.replica_names:
                engine_lib.wait_ready(engine_lib.Engine("postgres", f"postgresql://postgres@{plan.host}:"
                                                                    f"{plan.ports[replica]}"), timeout=_left(deadline))
        # All at once: each waits for what it needs (the balancer and the edge retry their
        # upstreams), and readiness below is what counts.
        present = {program.group for program in programs}  # no media group with --media 0
        for group in ("api", "media", "stream", "batch", "lifecycle", "federation", "balancer", "edge"):
            if group in present:
                supervise.start_group(folder, group, wait=False)
        _wait_ready(plan, deadline)
    except Exception as exc:  # noqa: BLE001 - any failure: say what, where the logs are, leave it for `down`
        console.print(f"[red]the cluster did not come up[/]: {exc}\nlogs: {folder / 'logs'}; "
                      f"stop what started with `clipfeed cluster down --dir {folder}`")
        raise typer.Exit(1) from None
    _remember_pids(plan)
    _print_status(plan, with_lag=False)
    console.print(f"\n[bold green]Clipfeed cluster ready[/]: {plan.public_url}  (media edge {plan.edge_url})")
    print(plan.public_url)


def _remember_pids(plan: Plan) -> None:
    """For ``down`` after supervisord itself was killed (see ``_kill_leftovers``)."""
    plan.pids = {p["name"]: p["pid"] for p in supervise.processes(plan.folder) if p["pid"]}
    plan.save()


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("out of time (--timeout)")
    return left


def _wait_ready(plan: Plan, deadline: float) -> None:
    """Every API process ready, the balancer answering /readyz, the edge listening, and every
    program running (a worker that cannot start keeps failing: supervisord says BACKOFF/FATAL)."""
    targets = [f"http://{plan.host}:{plan.api_port(i)}/readyz" for i in range(plan.counts.api)]
    targets += [f"{plan.public_url}/readyz", f"{plan.edge_url}/healthz"]
    with httpx.Client(timeout=3) as client:
        for url in targets:
            while True:
                try:
                    answer = client.get(url)
                    # The edge passes /healthz to the origin or answers itself: any answer
                    # from nginx means it listens.
                    if answer.status_code == 200 or (url.endswith("/healthz") and answer.status_code < 500):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} not ready (see the logs)")
                time.sleep(0.3)
    while True:
        states = {p["name"]: p["statename"] for p in supervise.processes(plan.folder)}
        failing = sorted(name for name, state in states.items() if state != "RUNNING")
        if not failing:
            return
        if time.monotonic() > deadline or any(states[name] == "FATAL" for name in failing):
            raise RuntimeError(f"not running: {', '.join(f'{n} ({states[n]})' for n in failing)} (see their logs)")
        time.sleep(0.3)


@cluster_cli.command("status")
def status(
    folder: Folder = DEFAULT_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
    lag: Annotated[bool, typer.Option("--lag/--no-lag", help="consumer groups' lag (reads the event log)")] = True,
) -> None:
    """Programs (state, pid, uptime, readiness), engines and consumer lag."""
    from clipfeed.cluster import status as status_lib

    plan = _load(folder)
    if not supervise.running(plan.folder):
        console.print(f"[yellow]no cluster runs in {plan.folder}[/] (supervisord does not answer)")
        raise typer.Exit(3)
    _remember_pids(plan)
    if as_json:
        print(status_lib.as_json(status_lib.collect(plan, with_lag=lag)))
    else:
        _print_status(plan, with_lag=lag)


def _print_status(plan: Plan, *, with_lag: bool) -> None:
    from clipfeed.cluster import status as status_lib

    report = status_lib.collect(plan, with_lag=with_lag)
    out = Console()
    table = Table(title=f"cluster {plan.name} — {plan.public_url}")
    for column in ("program", "state", "pid", "up", "port", "ready"):
        table.add_column(column)
    for p in report["programs"]:
        ready = "" if p["ready"] is None else ("yes" if p["ready"] else "[red]no[/]")
        state = p["state"] if p["state"] == "RUNNING" else f"[red]{p['state']}[/]"
        table.add_row(p["name"], state, str(p["pid"] or ""), _duration(p["uptime_s"]), str(p["port"] or ""), ready)
    out.print(table)
    for kind, where in report["engines"].items():
        out.print(f"  {kind}: {where}")
    behind = [g for g in report["lag"] if g["partitions_behind"]]
    if with_lag:
        if not behind:
            out.print("  consumer groups: all caught up")
        for g in behind:
            waiting = f", {g['waiting']} waiting" if g["waiting"] is not None else ""
            out.print(f"  {g['role']}/{g['group']} on {g['topic']}: {g['partitions_behind']} partition(s) behind, "
                      f"oldest {g['oldest_pending_s']:.1f} s{waiting}")


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


@cluster_cli.command("down")
def down(
    folder: Folder = DEFAULT_DIR,
    purge: Annotated[bool, typer.Option(
        help="also delete the cluster's data: its folder, and on engines found on the machine its "
             "databases, streams and cache keys")] = False,
) -> None:
    """Stop every program (API processes drain, workers hand their jobs back, engines last)."""
    plan = _load(folder)
    if supervise.running(plan.folder):
        supervise.shutdown(plan.folder, timeout=180)
    else:
        _kill_leftovers(plan)
    console.print(f"cluster {plan.name} stopped")
    if purge:
        _purge(plan)
        console.print(f"cluster {plan.name} purged")


def _kill_leftovers(plan: Plan) -> None:
    """supervisord is gone (killed): stop the programs it left by their recorded pids, those
    still naming the cluster's folder in their command or settings (a pid may have been
    reused by an unrelated process since)."""
    import psutil

    ours = []
    for pid in plan.pids.values():
        try:
            process = psutil.Process(pid)
            text = " ".join(process.cmdline()) + " " + process.environ().get("CLIPFEED_DATA_DIR", "")
        except (psutil.Error, OSError):
            continue
        if str(plan.folder) in text:
            ours.append(process)
    for process in ours:
        with contextlib.suppress(psutil.Error, OSError):
            os.killpg(process.pid, signal.SIGTERM)
    _gone, alive = psutil.wait_procs(ours, timeout=30)
    for process in alive:
        with contextlib.suppress(psutil.Error, OSError):
            os.killpg(process.pid, signal.SIGKILL)


def _purge(plan: Plan) -> None:
    import shutil

    env = plan.settings_env()
    if "postgres" not in plan.started:
        import psycopg

        server, names = plan.database_server_and_names()
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as conn:
            for db in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    if "redis" not in plan.started and "redis" not in plan.given:
        import redis

        client = redis.Redis.from_url(plan.urls["redis"] + "/0")
        for key in client.scan_iter(match=f"{plan.name}:*", count=1000):
            client.delete(key)
    if "nats" not in plan.started and "nats" not in plan.given:
        asyncio.run(_drop_streams(plan.urls["nats"], env["CLIPFEED_LOG_URL"].rsplit("prefix=", 1)[1]))
    shutil.rmtree(plan.folder, ignore_errors=True)


async def _drop_streams(url: str, prefix: str) -> None:
    import nats

    connection = await nats.connect(url)
    try:
        js = connection.jetstream()
        for info in await js.streams_info():
            stream = info.config.name or ""
            if stream.startswith(f"{prefix}_") or stream == f"KV_{prefix}_groups":
                await js.delete_stream(stream)
    finally:
        await connection.close()


def _load(folder: Path) -> Plan:
    try:
        return Plan.load(folder.resolve())
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


@cluster_cli.command("balance", hidden=True)
def balance(folder: Folder = DEFAULT_DIR) -> None:
    """nginx in front of the API processes with its /readyz checks (a program of the cluster)."""
    from clipfeed.cluster.balancer import run

    raise typer.Exit(asyncio.run(run(Plan.load(folder.resolve()))))



@cluster_cli.command("drill")
def drill(
    scenarios: Annotated[list[str], typer.Argument(
        help="kill-api | kill-stream | kill-media | restart-nats | restart-redis | restart-postgres | "
             "stop-redis-node")],
    folder: Folder = DEFAULT_DIR,
    rate: Annotated[float, typer.Option(help="requests a second of the steady load")] = 20.0,
    before: Annotated[float, typer.Option(help="seconds of load before the fault")] = 5.0,
    after: Annotated[float, typer.Option(help="seconds of load after service is back")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Break the running cluster under a steady load and report failed requests, lost or
    duplicated writes and the time back to full service (docs/operate/cluster.md#drills)."""
    import json

    from clipfeed.cluster import drill as drill_lib

    plan = _load(folder)
    if not supervise.running(plan.folder):
        console.print(f"[red]no cluster runs in {plan.folder}[/]")
        raise typer.Exit(3)
    try:
        for scenario in scenarios:
            drill_lib.check_allowed(plan, scenario)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    reports = []
    for scenario in scenarios:
        console.print(f"drill {scenario}: steady load at {rate:.0f} req/s, fault after {before:.0f} s")
        report = drill_lib.run(plan, scenario, rate=rate, before=before, after=after)
        reports.append(report)
        if not as_json:
            verdict = "[green]passed[/]" if report.passed else "[red]FAILED[/]"
            recovery = "never" if report.recovery_s is None else f"{report.recovery_s:.1f} s"
            in_flight = (f" + {report.in_flight_on_killed} in flight on the killed process"
                         if report.in_flight_on_killed else "")
            console.print(f"  {verdict}: {report.requests} requests, {report.failed} failed{in_flight} "
                          f"({report.success_rate:.4%} of the others succeeded) {report.failed_by_kind or ''}; "
                          f"{report.acknowledged_writes} acknowledged writes, {report.lost} lost, "
                          f"{report.duplicated} duplicated; counters right: {report.counters_right}; "
                          f"back to full service in {recovery}")
            for note in report.notes:
                console.print(f"  note: {note}")
    if as_json:
        print(json.dumps([drill_lib.as_dict(r) for r in reports], indent=2))
    raise typer.Exit(0 if all(r.passed for r in reports) else 1)
