"""``clipfeed cluster drill``: break a running cluster on purpose, under a steady load, and check
what users would notice: requests that failed, writes that were acknowledged and then lost or
applied twice, and how long until full service.

A drill signs up its own viewers (directly in the database: the sign-up rate limit is for
people), uploads a small clip through the balancer and waits until it plays, then sends a
steady mix through the balancer: feed pages, clip reads, playback events, likes (each viewer
likes the clip once) and comments (each with a unique body, sent with an ``Idempotency-Key`` and
sent again with it after a failure, as a careful app does). At ``before`` seconds it injects
the fault; it keeps the load on until service is back (a ``window`` of seconds where every
request succeeded and the broken program runs again) and ``after`` seconds more.

Then it checks, once the stream has caught up:

- *lost*: an acknowledged comment that is not in the clip's comment list, or a like whose
  ``PUT`` was acknowledged but the viewer's ``liked_by_me`` is false;
- *duplicated*: a comment body listed twice, or a stream counter (likes, comments) above the
  number of distinct rows behind it;
- *counters right*: the stream's like and comment counts equal the rows once caught up.

A drill process dying half-way leaves its viewers, clip and comments in the cluster (they are
ordinary rows, named ``d<run>_<n>``); nothing else. Faults on engines (restart-*) are refused
when the cluster did not start that engine: they would stop a service the machine shares.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from clipfeed.cluster import supervise
from clipfeed.cluster.openloop import send_at_rate
from clipfeed.cluster.plan import Plan

# scenario -> (program, what is done to it)
SCENARIOS: dict[str, tuple[str, str]] = {
    "kill-api": ("api-0", "kill"),
    "kill-stream": ("stream-0", "kill"),
    "kill-media": ("media-0", "kill"),
    "restart-nats": ("nats", "restart"),
    "restart-redis": ("redis", "restart"),
    "restart-postgres": ("postgres", "restart"),
    # One Redis of the cache ring (``cluster up --redis 2`` or more) stopped for STOPPED_S, then
    # started again, empty: its keys are served by the other nodes meanwhile, and "back" means
    # every API process has taken it back into its ring.
    "stop-redis-node": ("redis-1", "restart"),
}
ENGINE_OF = {"nats": "nats", "redis": "redis", "redis-1": "redis", "postgres": "postgres"}
STOPPED_S = {"stop-redis-node": 15.0}
VIEWERS = 40  # comments stay under the per-user limit (10 a minute) at the default rate
PASSWORD = "drill password, not for people"
IN_FLIGHT_S = 2.0


@dataclass
class Outcome:
    at: float        # seconds since the load started
    kind: str
    ok: bool
    status: int      # 0: no answer


@dataclass
class Report:
    scenario: str
    requests: int = 0
    failed: int = 0
    success_rate: float = 1.0
    failed_by_kind: dict[str, int] = field(default_factory=dict)
    # Requests the killed process was working on (a 502 or no answer within IN_FLIGHT_S of the
    # kill): lost with the process whatever the cluster does; not counted in success_rate.
    in_flight_on_killed: int = 0
    acknowledged_writes: int = 0
    lost: int = 0
    duplicated: int = 0
    counters_right: bool = True
    recovery_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (self.lost == 0 and self.duplicated == 0 and self.counters_right and self.recovery_s is not None
                and self.recovery_s <= 30)


class Load:
    """The steady mix, on a thread of its own (its own event loop), ``rate`` requests a second."""

    def __init__(self, url: str, clip_id: str, tokens: list[str], rate: float) -> None:
        self.url, self.clip_id, self.tokens, self.rate = url, clip_id, tokens, rate
        self.outcomes: list[Outcome] = []
        self.comments: dict[str, str] = {}   # acknowledged: comment id -> body
        self.sent_bodies: set[str] = set()
        self.likers: set[int] = set()         # indexes of viewers whose like was acknowledged
        self.stop = threading.Event()
        self.started = 0.0
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self.started = time.monotonic()
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(60)

    def now(self) -> float:
        return time.monotonic() - self.started

    async def _run(self) -> None:
        rng = random.Random(5)
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            await send_at_rate(self.rate, self.stop, lambda: self._one(http, rng), started=self.started)

    async def _one(self, http: httpx.AsyncClient, rng: random.Random) -> None:
        viewer = rng.randrange(len(self.tokens))
        auth = {"Authorization": f"Bearer {self.tokens[viewer]}"}
        roll = rng.random()
        at = self.now()
        kind, status = "", 0
        try:
            if roll < 0.35:
                kind = "feed"
                status = (await http.get("/v1/feed", headers=auth)).status_code
            elif roll < 0.60:
                kind = "clip"
                status = (await http.get(f"/v1/clips/{self.clip_id}", headers=auth)).status_code
            elif roll < 0.80:
                kind = "events"
                event = {"event_id": str(uuid.uuid4()), "type": "play_start", "clip_id": self.clip_id,
                         "ts": int(time.time() * 1000), "session_id": uuid.uuid4().hex[:12], "device": "web",
                         "network": "wifi"}
                status = (await http.post("/v1/events", headers=auth, json={"events": [event]})).status_code
            elif roll < 0.93 and viewer not in self.likers:
                kind = "like"
                status = (await http.put(f"/v1/clips/{self.clip_id}/like", headers=auth)).status_code
                if status == 200:
                    self.likers.add(viewer)
            elif roll < 0.93:  # liked already: reads the clip's counts, as the player does
                kind = "engagement"
                status = (await http.get(f"/v1/clips/{self.clip_id}/engagement", headers=auth)).status_code
            else:
                kind = "comment"
                status = await self._comment(http, auth)
        except httpx.HTTPError:
            status = 0
        self.outcomes.append(Outcome(at=at, kind=kind, ok=200 <= status < 300, status=status))

    async def _comment(self, http: httpx.AsyncClient, auth: dict[str, str]) -> int:
        """Post a comment as a careful app does: with an ``Idempotency-Key``, and again with the
        same key after a failure that may have reached the server (no answer, 502, 503), for a
        minute. Returns the first attempt's status (what the user saw at first); the comment
        counts as acknowledged when any attempt was."""
        body = f"drill comment {uuid.uuid4().hex}"
        self.sent_bodies.add(body)
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
        first = None
        for attempt in range(12):
            try:
                answer = await http.post(f"/v1/clips/{self.clip_id}/comments", headers=headers, json={"body": body})
                status = answer.status_code
            except httpx.HTTPError:
                status = 0
            first = status if first is None else first
            if status == 201:
                self.comments[answer.json()["id"]] = body
                return first
            if status not in (0, 409, 502, 503) or self.stop.is_set():
                return first
            await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
        return first or 0


# --- set-up -------------------------------------------------------------------------------

async def _viewers(plan: Plan, run: str) -> list[str]:
    """Accounts made in the database (argon2 and all), each with an access token."""
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import RegisterRequest
    from clipfeed.bootstrap import bootstrap
    from clipfeed.settings import Settings

    saved = dict(os.environ)
    os.environ.update(plan.settings_env())
    try:
        services = await bootstrap(Settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        tokens = []
        for n in range(VIEWERS):
            pair = await accounts.register(db=services.db, outbox=services.outbox, ids=services.ids,
                                           settings=services.settings, request=RegisterRequest(
                                               handle=f"d{run}_{n}", email=f"d{run}_{n}@drill.example",
                                               password=PASSWORD))
            tokens.append(pair.access_token)
        await services.outbox.flush()
        return tokens
    finally:
        await services.close()


def small_clip() -> bytes:
    """Two seconds of Conway's game of life from a random seed: every drill's clip differs, so
    the re-upload check does not hold the next drill's clip for review as a copy."""
    seed = random.randrange(1, 2**31)
    with tempfile.TemporaryDirectory(prefix="clipfeed-drill-") as folder:
        path = Path(folder) / "drill.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"life=s=320x240:r=15:ratio=0.3:mold=8:seed={seed}:life_color=#30c0f0:death_color=#402040",
                        "-f", "lavfi", "-i", f"sine=frequency={200 + seed % 600}", "-t", "2", "-pix_fmt", "yuv420p",
                        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path)],
                       check=True, timeout=120)
        return path.read_bytes()


def upload(url: str, token: str, data: bytes, caption: str) -> str:
    """A tus upload through the balancer; returns the clip ID."""
    import base64

    auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                    (("filename", "drill.mp4"), ("caption", caption)))
    with httpx.Client(base_url=url, timeout=30) as http:
        created = http.post("/v1/uploads/", headers={**auth, "Upload-Length": str(len(data)),
                                                     "Upload-Metadata": meta})
        created.raise_for_status()
        sent = http.patch(created.headers["location"], content=data, headers={
            **auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        sent.raise_for_status()
        return str(sent.headers["clipfeed-clip-id"])


def wait_status(url: str, clip_id: str, token: str, wanted: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    with httpx.Client(base_url=url, timeout=10) as http:
        while time.monotonic() < deadline:
            try:
                status = http.get(f"/v1/clips/{clip_id}", headers={"Authorization": f"Bearer {token}"}).json()[
                    "status"]
            except (httpx.HTTPError, KeyError, ValueError):
                status = "unreachable"
            if status in wanted:
                return status
            time.sleep(0.5)
    raise TimeoutError(f"clip {clip_id} still {status!r} after {timeout:.0f} s")


# --- faults -------------------------------------------------------------------------------

def _pid(plan: Plan, program: str) -> int:
    info = next(p for p in supervise.processes(plan.folder) if p["name"] == program)
    if not info["pid"]:
        raise RuntimeError(f"{program} is not running ({info['statename']})")
    return int(info["pid"])


def inject(plan: Plan, scenario: str, *, down_s: float) -> tuple[str, int | None]:
    """Do the scenario's harm; returns the program and the pid that was killed (if any)."""
    program, action = SCENARIOS[scenario]
    if action == "kill":
        pid = _pid(plan, program)
        os.kill(pid, signal.SIGKILL)
        return program, pid
    group = next(p["group"] for p in supervise.processes(plan.folder) if p["name"] == program)
    rpc = supervise.rpc(plan.folder).supervisor
    rpc.stopProcess(f"{group}:{program}", True)
    time.sleep(down_s)
    rpc.startProcess(f"{group}:{program}", False)
    return program, None


def check_allowed(plan: Plan, scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    if plan.counts.media == 0:  # each drill first waits for its uploaded clip to play
        raise ValueError(f"{scenario}: a drill needs a media worker in the cluster (`cluster up --media 1`)")
    program, action = SCENARIOS[scenario]
    if action == "restart" and ENGINE_OF[program] not in plan.started:
        raise ValueError(f"{scenario}: the cluster did not start {program} (it uses one found on the machine or "
                         "in the settings); restarting it would stop a shared service (use --engines throwaway)")
    if program.startswith(("api-", "media-", "stream-", "redis-")) and not any(
            p["name"] == program for p in supervise.processes(plan.folder)):
        raise ValueError(f"{scenario}: no program {program} in this cluster"
                         + (" (start it with `cluster up --redis 2`)" if program.startswith("redis-") else ""))


def _back(plan: Plan, program: str, killed: int | None) -> bool:
    """The program runs again (a new process, if it was killed); an API process also answers
    its ``/readyz``."""
    info = next(p for p in supervise.processes(plan.folder) if p["name"] == program)
    if info["statename"] != "RUNNING" or (killed is not None and info["pid"] == killed):
        return False
    if program.startswith("api-"):
        try:
            return httpx.get(f"http://{plan.host}:{plan.ports[program]}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    if program.startswith("redis-"):
        return all(_ring_whole(plan, i) for i in range(plan.counts.api))
    return True


def _ring_whole(plan: Plan, api: int) -> bool:
    """API process ``api`` has every Redis node in its ring again (no ``redis`` breaker other
    than closed in its ``/readyz``)."""
    try:
        body = httpx.get(f"http://{plan.host}:{plan.api_port(api)}/readyz", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    return not any(b.get("engine") == "redis" for b in body.get("breakers", []))


def _quiet_since(load: Load, since: float, window: float) -> float | None:
    """The start of a ``window``-second stretch (after ``since``) in which no request failed;
    None if the load has not had one yet."""
    outcomes = [o for o in list(load.outcomes) if o.at >= since]
    last_failure = max((o.at for o in outcomes if not o.ok), default=since)
    if load.now() - last_failure >= window and any(o.at > last_failure for o in outcomes):
        return last_failure
    return None


# --- checks -------------------------------------------------------------------------------

def verify(url: str, clip_id: str, tokens: list[str], load: Load, report: Report, timeout: float = 60) -> None:
    auth = {"Authorization": f"Bearer {tokens[0]}"}
    with httpx.Client(base_url=url, timeout=15) as http:
        listed: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"sort": "new", "limit": 50}
            if cursor:
                params["cursor"] = cursor
            page = http.get(f"/v1/clips/{clip_id}/comments", params=params, headers=auth).json()
            listed += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        ids = {c["id"] for c in listed}
        bodies = [c["body"] for c in listed if c["body"].startswith("drill comment ")]
        lost_comments = [cid for cid in load.comments if cid not in ids]
        duplicated = len(bodies) - len(set(bodies))
        liked: set[int] = set()  # every viewer asked: a like may be stored although its answer was lost
        for viewer, token in enumerate(tokens):
            mine = http.get(f"/v1/clips/{clip_id}/engagement", headers={"Authorization": f"Bearer {token}"})
            if mine.json()["liked_by_me"]:
                liked.add(viewer)
        lost_likes = len(load.likers - liked)
        if liked - load.likers:
            report.notes.append(f"{len(liked - load.likers)} like(s) stored although their request failed")
        report.acknowledged_writes = len(load.comments) + len(load.likers)
        report.lost = len(lost_comments) + lost_likes
        report.duplicated = duplicated
        unacknowledged_present = len(set(bodies) - set(load.comments.values()))
        if unacknowledged_present:
            report.notes.append(f"{unacknowledged_present} comment(s) stored although their request failed "
                                "(the answer was lost, not the write)")
        # The stream's counters, once caught up, match the rows behind them.
        deadline = time.monotonic() + timeout
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            counts = http.get(f"/v1/clips/{clip_id}/engagement", headers=auth).json()["counts"]
            if counts["comments"] == len(listed) and counts["likes"] == len(liked):
                break
            time.sleep(0.5)
        if counts.get("comments", 0) > len(listed) or counts.get("likes", 0) > len(liked):
            report.duplicated += 1
            report.notes.append(f"counters above the rows: {counts} for {len(listed)} comments, {len(liked)} likes")
        report.counters_right = counts.get("comments") == len(listed) and counts.get("likes") == len(liked)
        if not report.counters_right:
            report.notes.append(f"counters {counts} after {timeout:.0f} s; rows: {len(listed)} comments, "
                                f"{len(liked)} likes")


# --- a drill ------------------------------------------------------------------------------

def run(plan: Plan, scenario: str, *, rate: float = 20.0, before: float = 5.0, after: float = 5.0,
        window: float = 3.0, down_s: float = 3.0, give_up_s: float = 90.0) -> Report:
    check_allowed(plan, scenario)
    url = plan.public_url
    run_id = uuid.uuid4().hex[:6]
    tokens = asyncio.run(_viewers(plan, run_id))
    clip_id = upload(url, tokens[0], small_clip(), f"drill {run_id} #drill")
    wait_status(url, clip_id, tokens[0], {"ready"}, timeout=180)
    report = Report(scenario=scenario)
    load = Load(url, clip_id, tokens, rate)
    load.start()
    try:
        time.sleep(before)
        extra_clip = None
        if scenario == "kill-media":  # a clip in the middle of its processing when the worker dies
            extra_clip = upload(url, tokens[1], small_clip(), f"drill {run_id} in flight")
        at = load.now()
        program, killed = inject(plan, scenario, down_s=STOPPED_S.get(scenario, down_s))
        deadline = time.monotonic() + give_up_s
        back_at: float | None = None
        while time.monotonic() < deadline:
            if back_at is None and _back(plan, program, killed):
                back_at = load.now()
            quiet = _quiet_since(load, at, window)
            if back_at is not None and quiet is not None:
                # Full service: the program is back and requests stopped failing.
                report.recovery_s = round(max(0.0, back_at - at, quiet - at), 1)
                break
            time.sleep(0.2)
        if extra_clip is not None:
            started = time.monotonic()
            try:
                wait_status(url, extra_clip, tokens[1], {"ready"}, timeout=give_up_s)
                report.notes.append(f"the clip in flight became ready {time.monotonic() - started + 0.0:.0f} s "
                                    "after the kill")
                report.recovery_s = max(report.recovery_s or 0.0, round(load.now() - at, 1))
            except TimeoutError as exc:
                report.recovery_s = None
                report.notes.append(str(exc))
        time.sleep(after)
    finally:
        load.finish()
    outcomes = load.outcomes
    killed_at = at if SCENARIOS[scenario][1] == "kill" else None
    in_flight = [o for o in outcomes if not o.ok and killed_at is not None and o.status in (0, 502)
                 and killed_at - IN_FLIGHT_S <= o.at <= killed_at + IN_FLIGHT_S]
    report.in_flight_on_killed = len(in_flight)
    report.requests = len(outcomes)
    report.failed = sum(1 for o in outcomes if not o.ok) - len(in_flight)
    report.success_rate = round(1 - report.failed / max(1, report.requests - len(in_flight)), 5)
    for outcome in outcomes:
        if not outcome.ok:
            key = f"{outcome.kind} {outcome.status or 'no answer'}"
            report.failed_by_kind[key] = report.failed_by_kind.get(key, 0) + 1
    verify(url, clip_id, tokens, load, report)
    return report


def as_dict(report: Report) -> dict[str, Any]:
    return {**asdict(report), "passed": report.passed}
