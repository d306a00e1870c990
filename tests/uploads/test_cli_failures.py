"""``clipfeed upload`` when things do not go to plan: every failure is one line with the
server's own reason and a non-zero exit; ``--wait`` ends on ``review`` and on a dead server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.uploads.served import Served
from tests.uploads.tus import SAMPLE

QUIET = {"CLIPFEED_INPROCESS_WORKERS": "lifecycle"}  # no media pipeline: the test sets statuses
CLIPFEED = str(Path(sys.executable).parent / "clipfeed")


def _client_env(served: Served, home: Path) -> dict[str, str]:
    return {**served.env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"), "COLUMNS": "80"}


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _set_status(served: Served, clip_id: int, status: str) -> None:
    """What the media worker (or a moderator) does, from another process sharing the store."""
    import clipfeed.schema  # noqa: F401 - every table, for the foreign keys
    from clipfeed.bootstrap import running
    from clipfeed.clips import service as clips_service
    from clipfeed.clips.models import ClipStatus
    from clipfeed.settings import Settings

    async def run() -> None:
        settings = Settings(data_dir=Path(served.env["CLIPFEED_DATA_DIR"]), log_json=False)
        async with running(settings) as services:
            await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip_id,
                                           status=ClipStatus(status))
            await services.outbox.flush()

    asyncio.run(run())


def _waiting_upload(served: Served, env: dict[str, str], caption: str, token: str) -> tuple[subprocess.Popen[str], int]:
    """Start ``clipfeed upload --wait`` and return it with its clip's ID once the clip exists
    and the CLI follows its status stream."""
    waiting = subprocess.Popen([CLIPFEED, "upload", str(SAMPLE), "--caption", caption, "--wait"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    auth = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        items = httpx.get(f"{served.url}/v1/users/kim/clips", headers=auth, timeout=10).json()["items"]
        clip_id = next((c["id"] for c in items if c["caption"] == caption), None)
        if clip_id is not None:
            break
        time.sleep(0.1)
    assert clip_id is not None, "the upload never made a clip"
    # Give the CLI a moment to open its status stream; had it not yet, it would read the new
    # status (or fail to connect) when it does, and the assertions hold the same.
    time.sleep(1.0)
    return waiting, int(clip_id)


@pytest.mark.slow
def test_upload_failures_are_one_line_and_the_wait_ends_on_review_and_on_a_dead_server(tmp_path: Path) -> None:
    served = Served(tmp_path / "var", QUIET).start()
    env = _client_env(served, tmp_path / "home")
    try:
        token = served.register("kim")
        assert served.cli("login", "--login", "kim", "--password", "correct horse battery",
                          env=env).returncode == 0

        # A refusal at creation: the server's reason, not a tus traceback.
        refused = served.cli("upload", str(SAMPLE), "--tag", "t-upload", env=env)
        assert refused.returncode == 1
        [line] = _error_lines(refused.stderr)
        assert "(400)" in line and "letters, digits and '_' only" in line, line
        with_debug = served.cli("upload", str(SAMPLE), "--tag", "t-upload", "--debug", env=env)
        assert with_debug.returncode == 1 and "Traceback" in with_debug.stderr
        wrong = served.cli("login", "--login", "kim", "--password", "not the password", env=env)
        assert wrong.returncode == 1 and len(_error_lines(wrong.stderr)) == 1

        # Held for review ends the wait, saying what happens next.
        waiting, clip_id = _waiting_upload(served, env, "review me", token)
        _set_status(served, clip_id, "review")
        _, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err
        assert "held for review" in err and "moderator" in err
        # The status stream itself ends on review (a keep-alive every 15 s would show it did not).
        started = time.monotonic()
        with httpx.stream("GET", f"{served.url}/v1/clips/{clip_id}/status/stream",
                          headers={"Authorization": f"Bearer {token}"}, timeout=30) as stream:
            statuses = []
            for line in stream.iter_lines():
                assert time.monotonic() - started < 20, "the status stream stayed open on review"
                statuses += [line] if line.startswith("data:") else []
        assert len(statuses) == 1 and '"status":"review"' in statuses[0], statuses

        # The server dies while the CLI waits: one clear line, non-zero.
        waiting, clip_id = _waiting_upload(served, env, "orphaned", token)
        served.kill()
        _, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 1
        [line] = _error_lines(err)
        assert f"lost the server while waiting for clip {clip_id}" in line, err
    finally:
        served.stop()
