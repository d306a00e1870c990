"""Compaction into Parquet by date and hour, and the DuckDB jobs' aggregates, creator analytics
and point-in-time training rows for the golden sequence, on both stacks."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from clipfeed.core.viewers import ViewerId
from clipfeed.lake import compaction, service
from clipfeed.lake.layout import EVENTS_PREFIX
from clipfeed.stream.activity import decode
from tests.lake.golden_lake import golden_lake
from tests.stream.pipeline import make_clip

PART = re.compile(r"^lake/events/dt=(\d{4}-\d{2}-\d{2})/hh=(\d{2})/part-\d{13}-[0-9a-f]{8}\.parquet$")


async def test_compaction_partitions_by_event_date_and_hour(client, services) -> None:
    scenario = await golden_lake(client, services)
    keys = [info.key async for info in services.blobs.list(EVENTS_PREFIX)]
    assert keys and all(PART.match(k) for k in keys)
    moment = datetime.fromtimestamp(scenario.base, UTC)
    assert any(PART.match(k).groups() == (moment.date().isoformat(), f"{moment.hour:02d}") for k in keys)
    day = moment.date()
    _, results = await service.run_jobs(services=services, from_day=day, to_day=day, engine="duckdb", store=False)
    # Every play of the scenario, once (A 4, B 2, C 31).
    assert sum(results["clip_daily"].column("plays").to_pylist()) == 37


async def test_jobs_compute_creator_analytics_and_point_in_time_training_rows(client, services) -> None:
    scenario = await golden_lake(client, services)
    a, b = scenario.clips["A"], scenario.clips["B"]
    accounts = scenario.accounts
    day = datetime.fromtimestamp(scenario.base, UTC).date()
    # A compaction that died before acknowledging wrote the same events again: no change.
    again = [decode(r.value) for p in range(8) for r in await services.log.read("activity.users", p, from_offset=0)]
    await compaction.write_parts(again, services=services)
    report, results = await service.run_jobs(services=services, from_day=day, to_day=day, engine="duckdb")
    assert report.rows["training"] == 3

    daily = {row["clip_id"]: row for row in results["clip_daily"].to_pylist()}
    assert {k: daily[a][k] for k in ("impressions", "plays", "views", "completes", "skips", "watch_ms", "likes",
                                     "shares", "comments")} == {
        "impressions": 2, "plays": 4, "views": 3, "completes": 1, "skips": 1, "watch_ms": 9200, "likes": 1,
        "shares": 1, "comments": 1}
    assert daily[a]["creator_id"] == accounts["dave"].id

    training = {(row["viewer"], row["clip_id"]): row for row in results["training"].to_pylist()}
    alice_a = training[(ViewerId.signed_in(accounts["alice"].id).key, a)]
    assert (alice_a["label_complete"], alice_a["label_like"], alice_a["label_share"], alice_a["label_watch_ms"]) == (
        1, 0, 1, 8000)
    assert (alice_a["viewer_plays_7d"], alice_a["clip_impressions_7d"]) == (0, 0)  # nothing before it
    bob_a = training[(ViewerId.signed_in(accounts["bob"].id).key, a)]
    assert (bob_a["label_complete"], bob_a["label_like"], bob_a["label_watch_ms"]) == (0, 1, 1200)
    assert (bob_a["clip_impressions_7d"], bob_a["clip_plays_7d"], bob_a["clip_completes_7d"]) == (1, 2, 1)
    bob_b = training[(ViewerId.signed_in(accounts["bob"].id).key, b)]
    # Seen at t+23, after bob's play (t+21) and skip (t+22) of A: those count, later ones not.
    assert (bob_b["viewer_plays_7d"], bob_b["viewer_skips_7d"], bob_b["viewer_completes_7d"]) == (1, 1, 0)
    assert (bob_b["label_complete"], bob_b["label_watch_ms"]) == (1, 6000)
    stored = await service.read_training(services=services, day=day)
    assert stored.num_rows == 3

    # The creator analytics API serves what the jobs stored.
    dave = accounts["dave"]
    mine = await client.get("/v1/creators/me/analytics", headers=dave.auth,
                            params={"from": day.isoformat(), "to": day.isoformat()})
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["from"] == body["to"] == day.isoformat()
    assert body["totals"]["views"] == 3 + 2 + 2 and body["totals"]["plays"] == 4 + 2 + 31
    assert body["totals"]["followers_added"] == 1 and body["followers"][0]["net"] == 1
    sources = {s["name"]: s["plays"] for s in body["traffic_sources"]}
    assert sources == {"foryou": 2, "following": 1, "unknown": 34}
    assert body["regions"] == [{"name": services.settings.region, "plays": 37, "viewers": 7, "share": 1.0}]
    clip = await client.get(f"/v1/creators/me/analytics/clips/{a}", headers=dave.auth,
                            params={"from": day.isoformat(), "to": day.isoformat()})
    assert clip.status_code == 200
    curve = {p["second"]: p["viewers"] for p in clip.json()["retention"]}
    # Plays of A stopped at 0 s (anonymous), 1.2 s (bob's skip) and 8 s (alice completed).
    assert curve[0] == 1.0 and curve[1] == 2 / 3 and curve[2] == curve[8] == 1 / 3 and max(curve) == 8
    assert clip.json()["totals"]["avg_watch_ms"] == 2300


async def test_batch_loops_compact_and_recompute_the_days_that_changed(client, services) -> None:
    import asyncio
    import time

    from clipfeed.analytics import service as analytics
    from clipfeed.lake import worker
    from tests.helpers import signup
    from tests.stream.pipeline import event, send

    dave, viewer = await signup(client, "dave"), await signup(client, "viewer")
    clip = await make_clip(client, services, dave, "batch #lake")
    await send(client, [event("play_start", clip, time.time()), event("complete", clip, time.time(),
                                                                      duration_ms=4000)], viewer.auth)
    services.settings.lake_flush_interval_s = 0.5
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.compaction_loop(stop, services=services))
    try:
        for _ in range(200):
            if await services.cache.zcard(compaction.DIRTY_KEY):
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await loop
    reports = await worker.run_due_jobs(services=services)
    today = datetime.now(UTC).date()
    assert [(r.from_day, r.to_day) for r in reports] == [(today, today)] and reports[0].files >= 1
    assert await services.cache.zcard(compaction.DIRTY_KEY) == 0
    stats = await analytics.analytics(db=services.db, creator_id=dave.id, from_day=today, to_day=today)
    assert (stats.totals.plays, stats.totals.views, stats.totals.completion_rate) == (1, 1, 1.0)


async def test_a_stopping_batch_worker_stops_gathering_at_once_and_loses_nothing(client, services) -> None:
    """SIGTERM mid-gather (an hour's flush interval here): the loop ends within the worker's
    grace rather than after the interval, and every event lands in the lake, written by the
    stopping loop or handed back to the next one."""
    import asyncio
    import time

    from clipfeed.analytics import service as analytics
    from clipfeed.lake import worker
    from tests.helpers import signup
    from tests.stream.pipeline import event, send

    erin, viewer = await signup(client, "erin"), await signup(client, "viewer")
    clip = await make_clip(client, services, erin, "stop #lake")
    services.settings.lake_flush_interval_s = 3600
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.compaction_loop(stop, services=services))
    await send(client, [event("play_start", clip, time.time()), event("complete", clip, time.time(),
                                                                      duration_ms=4000)], viewer.auth)
    await asyncio.sleep(1.5)  # the loop is somewhere in its hour of gathering
    stop.set()
    await asyncio.wait_for(loop, services.settings.worker_stop_grace_s)
    consumer = await compaction.open_consumer(services=services)
    try:
        while await compaction.compact_once(consumer, max_wait=1.0, services=services):
            pass
    finally:
        await consumer.close()
    await worker.run_due_jobs(services=services)
    today = datetime.now(UTC).date()
    stats = await analytics.analytics(db=services.db, creator_id=erin.id, from_day=today, to_day=today)
    assert (stats.totals.plays, stats.totals.views) == (1, 1)


async def test_lake_run_command_recomputes_a_day(*, services) -> None:
    import subprocess

    from tests.stream.test_worker_kill import CLIPFEED, worker_env

    today = datetime.now(UTC).date().isoformat()
    done = subprocess.run([CLIPFEED, "lake", "run", "--from", today, "--engine", "duckdb"],
                          env=worker_env(services.settings), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "done in" in done.stderr and "on duckdb: 0 part(s)" in done.stderr
