"""What ``clipfeed cluster status`` reports: each program's state and pid from supervisord,
each API process's readiness, and how far behind each consumer group of the worker roles is
(the age of its oldest record not yet handled, and for work queues how many wait)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from clipfeed.cluster import supervise
from clipfeed.cluster.plan import Plan
from clipfeed.core.errors import NotFound
from clipfeed.infra.log import EventLog, open_event_log

QUEUE_COUNT_CAP = 500  # a work queue deeper than this shows as "500+"


@dataclass
class ProgramState:
    name: str
    group: str
    state: str             # supervisord's: RUNNING, STARTING, BACKOFF, EXITED, FATAL, STOPPED…
    pid: int | None
    uptime_s: int | None
    ready: bool | None     # API processes: /readyz answered 200
    port: int | None


@dataclass
class GroupLag:
    role: str
    group: str
    topic: str
    partitions_behind: int
    oldest_pending_s: float | None   # age of the oldest record not yet acknowledged
    waiting: int | None              # work queues: records waiting (capped at QUEUE_COUNT_CAP)


def programs(plan: Plan) -> list[ProgramState]:
    now = time.time()
    out = []
    for info in supervise.processes(plan.folder):
        running = info["statename"] in ("RUNNING", "STOPPING")
        out.append(ProgramState(name=info["name"], group=info["group"], state=info["statename"],
                                pid=info["pid"] or None, uptime_s=int(now - info["start"]) if running else None,
                                ready=None, port=plan.ports.get(info["name"])))
    return out


def check_ready(plan: Plan, states: list[ProgramState]) -> None:
    with httpx.Client(timeout=3) as client:
        for state in states:
            if state.group == "api" and state.port:
                try:
                    state.ready = client.get(f"http://{plan.host}:{state.port}/readyz").status_code == 200
                except httpx.HTTPError:
                    state.ready = False
            elif state.name == "balancer":
                try:
                    state.ready = client.get(f"{plan.public_url}/readyz").status_code == 200
                except httpx.HTTPError:
                    state.ready = False


async def lags(log_url: str) -> list[GroupLag]:
    from clipfeed.workers import ROLES

    log = await open_event_log(log_url)
    out: list[GroupLag] = []
    try:
        for role, spec in ROLES.items():
            for processor in spec.processors:
                group, topics, shared = (getattr(processor, "group", None), getattr(processor, "topics", ()),
                                         getattr(processor, "shared", False))
                if not isinstance(group, str):
                    continue
                for topic in topics:
                    lag = await _lag(log, role, group, str(topic), shared)
                    if lag is not None:
                        out.append(lag)
    finally:
        await log.close()
    return out


async def _lag(log: EventLog, role: str, group: str, topic: str, shared: bool) -> GroupLag | None:
    try:
        ends = await log.end_offsets(topic)
        committed = await log.committed(topic, group)
    except NotFound:
        return None  # nothing written there yet, or the group never joined
    behind, oldest, waiting = 0, None, 0
    now = datetime.now(UTC)
    for partition, end in ends.items():
        start = committed.get(partition, 0)
        if start >= end:
            continue
        limit = QUEUE_COUNT_CAP if shared else 1
        pending = [r for r in await log.read(topic, partition, from_offset=start, limit=limit) if r.offset < end]
        if not pending:
            continue
        behind += 1
        waiting += len(pending)
        age = (now - pending[0].timestamp).total_seconds()
        oldest = age if oldest is None else max(oldest, age)
    return GroupLag(role=role, group=group, topic=topic, partitions_behind=behind, oldest_pending_s=oldest,
                    waiting=min(waiting, QUEUE_COUNT_CAP) if shared else None)


def collect(plan: Plan, *, with_lag: bool = True) -> dict[str, Any]:
    states = programs(plan)
    check_ready(plan, states)
    report: dict[str, Any] = {"name": plan.name, "folder": str(plan.folder), "url": plan.public_url,
                              "edge": plan.edge_url, "engines": _engines(plan),
                              "programs": [asdict(state) for state in states], "lag": []}
    if with_lag:
        with contextlib.suppress(Exception):  # the log may be down: the rest of the report still helps
            report["lag"] = [asdict(lag) for lag in asyncio.run(lags(plan.settings_env()["CLIPFEED_LOG_URL"]))]
    return report


def _engines(plan: Plan) -> dict[str, str]:
    def origin(kind: str) -> str:
        if kind in plan.started:
            return "started by the cluster"
        return "from the settings" if kind in plan.given else "found on the machine"

    out = {}
    for kind, url in plan.urls.items():
        servers = url.split(",") if kind == "redis" and kind in plan.started else [url]
        for i, server in enumerate(servers):  # each Redis of the cluster's ring on a line of its own
            out[kind if i == 0 else f"{kind}-{i}"] = f"{_redact(server)} ({origin(kind)})"
    return out


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}@{host}"
    return url


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2)
