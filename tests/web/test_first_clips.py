"""The first minute of a new instance, as a viewer lives it: the app opened before any clip is
ready says so, and the first clip published meanwhile plays without a reload (the feed asks
again on its own). Playwright driving Debian's Chromium against a real server."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.web.conftest import ARTIFACTS, CREATOR, JS, seen, serve_stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


async def _publish_one(data_dir: Path, url: str) -> str:
    from clipfeed.accounts import service as accounts
    from clipfeed.bootstrap import bootstrap
    from clipfeed.settings import Settings
    from tests.delivery import ladder

    services = await bootstrap(Settings(data_dir=data_dir, log_json=False, inprocess_workers="none", public_url=url))
    try:
        creator = await accounts.get_by_handle(db=services.db, handle=CREATOR["handle"])
        clip = await ladder.publish(owner_id=creator.id, caption="the first clip #hello", services=services)
        await services.outbox.flush()
        return str(clip.id)
    finally:
        await services.close()


def test_a_viewer_waiting_on_an_empty_instance_sees_the_first_clip_play_without_reloading(tmp_path: Path) -> None:
    artifacts = ARTIFACTS / "first-clips"
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    marker = tmp_path / "empty-feed-shown"
    with serve_stack(tmp_path, clips=0) as stack:
        assert stack.data_dir is not None
        setup = {"journeys": [], "url": stack.url, "marker": str(marker), "artifacts": str(artifacts)}
        browser = subprocess.Popen(["node", str(JS / "first_clips.mjs"), json.dumps(setup)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while not marker.exists() and browser.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            published = asyncio.run(_publish_one(stack.data_dir, stack.url)) if marker.exists() else None
            out, err = browser.communicate(timeout=300)
        finally:
            if browser.poll() is None:
                browser.kill()
    assert browser.returncode == 0, err[-4000:]
    (artifacts / "journeys.json").write_text(out)
    report = seen(dict(json.loads(out.strip().splitlines()[-1])), "first clip plays without a reload")
    assert published is not None, "the app never showed the empty feed"
    assert report["clipId"] == published
    assert report["navigations"] == 1  # the first load only: the clip came without a reload
