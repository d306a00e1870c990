"""The public upload limits a client reads before recording or sending a file."""

from __future__ import annotations

import pytest

from clipfeed.media import ladder
from clipfeed.settings import Settings
from tests.helpers import assert_problem, signup


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, log_json=False, upload_max_duration_s=42.0, upload_max_bytes=5_000_000)


async def test_upload_limits_are_public_and_come_from_the_settings(client) -> None:
    answer = await client.get("/v1/upload-limits")
    assert answer.status_code == 200
    limits = answer.json()
    assert limits["max_duration_s"] == 42.0 and limits["max_bytes"] == 5_000_000
    assert limits["min_duration_s"] == 1.0 and "mp4" in limits["containers"]


async def test_upload_limits_name_the_ladder_top_rendition_and_the_accepted_codecs(client) -> None:
    limits = (await client.get("/v1/upload-limits")).json()
    top = limits["top_rendition"]
    assert top["short_side"] == ladder.PROFILES[0].short_side and top["max_fps"] == ladder.MAX_FPS
    assert top["bitrate_kbps"] == ladder.PROFILES[0].maxrate_kbps
    assert top["high_fps_bitrate_kbps"] > top["bitrate_kbps"]
    assert "h264" in limits["video_codecs"] and "opus" in limits["audio_codecs"]


async def test_upload_probe_counts_the_bytes_of_a_signed_in_user(client) -> None:
    alice = await signup(client, "probealice")
    answer = await client.post("/v1/upload-probe", content=b"x" * 300_000, headers=alice.auth)
    assert answer.status_code == 200 and answer.json() == {"bytes": 300_000}


async def test_upload_probe_refuses_strangers_and_oversized_bodies(client) -> None:
    assert_problem(await client.post("/v1/upload-probe", content=b"x" * 1000), 401)
    bob = await signup(client, "probebob")
    too_big = await client.post("/v1/upload-probe", content=b"x" * (1024 * 1024 + 1), headers=bob.auth)
    assert_problem(too_big, 413)
