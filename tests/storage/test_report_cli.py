"""``clipfeed storage report`` and ``lifecycle`` as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.delivery import ladder
from tests.helpers import signup

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stack", ["embedded"])
async def test_storage_commands_move_clips_and_print_the_bill(client, services, settings) -> None:
    owner = await signup(client, "operator")
    clip = await ladder.publish(owner_id=owner.id, services=services)
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(settings.data_dir), "CLIPFEED_INPROCESS_WORKERS": "none",
           "CLIPFEED_LOG_LEVEL": "WARNING", "COLUMNS": "160",
           "CLIPFEED_STORAGE_PRICES": '{"hot": 0.02, "warm": 0.01, "cold": 0.002, "replica": 0.02}'}

    def clipfeed(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "clipfeed.cli", *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    for days in (0, 8):
        moved = clipfeed("storage", "lifecycle", "--now", (clip.published_at + timedelta(days=days)).isoformat())
    assert "media:hot->warm" in moved and "raw:hot->cold" in moved
    bill = clipfeed("storage", "report")
    for word in ("hot", "warm", "cold", "0.0100", "total", "the policy saves $"):
        assert word in bill, bill
    assert "copied" in clipfeed("storage", "replicate")
    assert "resumed 0 moves" in clipfeed("storage", "repair")
