"""The web player prefetches the next two clips' posters and first segments (Playwright driving
Debian's Chromium against the real origin and nginx edge)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from clipfeed.delivery.playback import playback_info
from tests.delivery import ladder

pytestmark = pytest.mark.slow
JS = Path(__file__).resolve().parents[1] / "js"


def _node_modules() -> None:
    if not (JS / "node_modules" / "playwright-core").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300)


async def test_player_prefetches_the_next_two_clips_and_only_those(delivery_stack, stack_services, creator) -> None:
    _node_modules()
    clips = [await ladder.publish(owner_id=creator.id, services=stack_services) for _ in range(4)]
    infos = [await playback_info(services=stack_services, clip=c, viewer_id=None, region=None, network="3g")
             for c in clips]
    page = f"{delivery_stack.origin}/app/index.html?network=3g&clips=" + ",".join(str(c.id) for c in clips)
    run = subprocess.run(["node", str(JS / "prefetch_page.mjs"), page, "1500"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["playing"] and seen["second"], run.stderr
    first_clip = seen["requests"][:len(seen["requests"]) - len(seen["afterNext"])]  # before "next"
    urls = {r["url"].split("?")[0] for r in first_clip if r["status"] == 200}
    for info in infos[1:3]:  # the next two: poster, start playlist, init and first segment
        for url in info.prefetch_urls:
            assert url.split("?")[0] in urls, url
        assert info.start_rendition == "360"
    assert not any(f"/media/clips/{clips[3].id}/" in url for url in urls)  # not three ahead
    # The second clip then starts from what was prefetched: its first segment comes from the
    # browser's cache, not from the network.
    again = [r for r in seen["afterNext"] if r["url"] == infos[1].prefetch_urls[-1]]
    assert again and all(r["fromCache"] for r in again), again
