"""The origin on both stacks: local files (FileResponse) and S3 (streamed from SeaweedFS)."""

from __future__ import annotations

import pytest

from tests.delivery import ladder
from tests.helpers import signup

pytestmark = pytest.mark.slow


async def test_origin_streams_objects_and_ranges_from_either_store(client, services) -> None:
    owner = await signup(client, "streamer")
    clip = await ladder.publish(owner_id=owner.id, services=services)
    key = "v/720/seg_00000.m4s"
    whole = (ladder.ladder() / key).read_bytes()
    full = await client.get(f"/media/clips/{clip.id}/{key}")
    assert full.status_code == 200 and full.content == whole
    assert full.headers["content-length"] == str(len(whole))
    part = await client.get(f"/media/clips/{clip.id}/{key}", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(whole)}"
    head = await client.head(f"/media/clips/{clip.id}/{key}")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(whole))
    cached = await client.get(f"/media/clips/{clip.id}/{key}", headers={"If-None-Match": full.headers["etag"]})
    assert cached.status_code == 304
    assert (await client.get(f"/media/clips/{clip.id}/raw/master.mp4")).status_code == 404
