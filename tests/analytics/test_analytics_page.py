"""The creator analytics page of the web app (``/studio/analytics``; the old ``/app/analytics.html``
redirects there) in Debian's Chromium, driven by Playwright against a real ``clipfeed serve``: a
creator signs in and sees the figures the analytics API serves, computed from real events
(events API, stream role, lake, batch jobs); someone else's clip is refused with a readable
message. The journey is the studio's own (``tests/js/studio_journeys.mjs``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import PASSWORD, Account, signup
from tests.services import free_port, stop_process, wait_for_port
from tests.stream.pipeline import event, make_clip, running_role, send, start_time
from tests.web.conftest import ARTIFACTS, built_app, js_modules

pytestmark = pytest.mark.slow
JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``clipfeed serve`` on the embedded engines, without worker roles: the test runs the
    stream role, compaction and the jobs itself, on the same SQLite files and folders."""
    built_app()
    js_modules()
    port = free_port()
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(tmp_path), "CLIPFEED_PORT": str(port),
           "CLIPFEED_INPROCESS_WORKERS": "none", "CLIPFEED_LOG_LEVEL": "WARNING",
           "CLIPFEED_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, server, timeout=60)
            deadline = time.monotonic() + 30
            while httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code != 200:
                assert time.monotonic() < deadline, "the server never became healthy"
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}", tmp_path
        finally:
            stop_process(server, grace=15)


async def _watched(client: httpx.AsyncClient, services: Any) -> dict[str, Any]:
    """dave's public clip is played by alice (to the end), an anonymous device (skipped at
    2.5 s) and eve (no end reported); his private clip by no one; alice follows him. Then the
    stream role, compaction and today's jobs run, as the batch role would."""
    from clipfeed.core.contract import Topic
    from clipfeed.lake import compaction
    from clipfeed.lake import service as lake
    from clipfeed.stream.catchup import wait_for_catch_up

    dave, eve, alice = [await signup(client, name) for name in ("dave", "eve", "alice")]
    watched = await make_clip(client, services, dave, "Sunset over the harbour #timelapse")
    unseen = await make_clip(client, services, dave, "Draft nobody saw", visibility="private")
    others = await make_clip(client, services, eve, "Eve's own clip")
    t = start_time()
    await send(client, [event("impression", watched, t, source="foryou"),
                        event("play_start", watched, t + 1, source="foryou"),
                        event("progress", watched, t + 4, watch_ms=3000, position_ms=3000),
                        event("complete", watched, t + 7, watch_ms=3000, duration_ms=6000),
                        event("play_start", others, t + 8, session="s2")], alice.auth)
    await send(client, [event("play_start", watched, t + 10, source="share"),
                        event("skip", watched, t + 12, position_ms=2500, watch_ms=2500)],
               {"X-Device-Id": "device-analytics-1"})
    await send(client, [event("play_start", watched, t + 20, source="following")], eve.auth)
    followed = await client.put(f"/v1/users/{dave.id}/follow", headers=alice.auth)
    assert followed.status_code == 200, followed.text
    deadline = time.monotonic() + 30
    while not sum((await services.log.end_offsets(Topic.SOCIAL)).values()):  # the server's relay publishes it
        assert time.monotonic() < deadline, "the follow never reached the social topic"
        await asyncio.sleep(0.2)
    async with running_role(services=services):
        await wait_for_catch_up(services=services, timeout=60)
    consumer = await compaction.open_consumer(services=services)
    try:
        while await compaction.compact_once(consumer, max_wait=1.0, services=services):
            pass
    finally:
        await consumer.close()
    today = datetime.fromtimestamp(t, UTC).date()
    await lake.run_jobs(services=services, from_day=today, to_day=today, engine="duckdb")
    return {"dave": dave, "watched": watched, "unseen": unseen, "others": others, "day": today.isoformat()}


def _drive(origin: str, dave: Account, watched: int, others: int) -> dict[str, Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    setup = {"url": origin, "artifacts": str(ARTIFACTS), "creator": {"handle": dave.handle, "password": PASSWORD},
             "clips": {"edit": str(watched), "others": str(others)}, "journeys": ["studio_analytics"]}
    run = subprocess.run(["node", str(JS / "studio_journeys.mjs"), json.dumps(setup)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout.strip().splitlines()[-1])["studio_analytics"]


async def test_a_creator_sees_their_analytics_charted_and_not_someone_elses(origin) -> None:
    import clipfeed.schema  # noqa: F401 - every table, for the foreign keys
    from clipfeed.bootstrap import bootstrap
    from clipfeed.settings import Settings

    url, data_dir = origin
    moved = httpx.get(f"{url}/app/analytics.html", follow_redirects=False, timeout=10)
    assert moved.status_code == 301 and moved.headers["location"] == "/studio/analytics"
    services = await bootstrap(Settings(data_dir=data_dir, log_json=False, inprocess_workers="none"))
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            s = await _watched(client, services)
            dave = s["dave"]
            page = await asyncio.to_thread(_drive, url, dave, s["watched"], s["others"])
            api = (await client.get("/v1/creators/me/analytics", headers=dave.auth)).json()
            api_clip = (await client.get(f"/v1/creators/me/analytics/clips/{s['watched']}", headers=dave.auth)).json()
    finally:
        await services.close()
    assert page["ok"], page.get("error")
    assert not page["errors"] and not page["violations"], (page["errors"], page["violations"])

    # The whole channel: the page shows what the API serves, and that is what the viewers did.
    channel = page["channel"]
    assert channel["period"] == f"{api['from']} – {api['to']}"
    assert api["totals"]["views"] == 3 and api["totals"]["plays"] == 3 and api["totals"]["followers_added"] == 1
    assert channel["totals"]["views"] == "3" and channel["totals"]["plays"] == "3"
    assert channel["totals"]["followers"] == "1"
    assert channel["totals"]["watch"] == f"{api['totals']['watch_ms'] / 1000:.1f} s"
    views = channel["charts"]["views"]
    assert views["svg"] and "3 in total" in views["label"] and len(views["rows"]) == len(api["daily"]) == 28
    assert [s["day"], "3"] in views["rows"]
    average = api["daily"][-1]["avg_watch_ms"]
    assert channel["charts"]["watch"]["rows"] == [[s["day"], f"{average / 1000:.1f} s", "3"]]
    assert channel["charts"]["followers"]["rows"] == [[s["day"], "1", "0", "1"]]
    sources = {row[0]: row[1] for row in channel["charts"]["sources"]["rows"]}
    assert sources == {"For You": "1", "Shared link": "1", "Following": "1"}
    assert channel["charts"]["regions"]["rows"] == [["local", "3", "100.0 %"]]
    assert "retention" not in channel["charts"]

    # The clip: its retention curve, a point per second up to the furthest (completed at 6 s).
    retention = page["clip"]["charts"]["retention"]
    assert [p["viewers"] for p in api_clip["retention"]] == pytest.approx([1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3])
    assert retention["svg"] and len(retention["rows"]) == 7
    assert retention["rows"][0] == ["0 s", "100.0 %"] and retention["rows"][-1] == ["6 s", "33.3 %"]
    assert page["clip"]["totals"]["views"] == "3" and "followers" not in page["clip"]["charts"]

    # Someone else's clip: refused, readably.
    assert page["other"] == "only the creator sees a clip's analytics"
