"""The public upload limits a client reads before recording or sending a file."""

from __future__ import annotations

import pytest

from clipfeed.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, log_json=False, upload_max_duration_s=42.0, upload_max_bytes=5_000_000)


async def test_upload_limits_are_public_and_come_from_the_settings(client) -> None:
    answer = await client.get("/v1/upload-limits")
    assert answer.status_code == 200
    limits = answer.json()
    assert limits["max_duration_s"] == 42.0 and limits["max_bytes"] == 5_000_000
    assert limits["min_duration_s"] == 1.0 and "mp4" in limits["containers"]
