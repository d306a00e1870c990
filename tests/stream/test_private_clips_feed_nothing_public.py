"""Only live (ready, public) clips feed public lists: a private clip's tags never trend."""

from __future__ import annotations

import time

from clipfeed.stream.catchup import wait_for_catch_up
from tests.helpers import signup
from tests.stream.pipeline import event, make_clip, running_role, send


async def test_a_private_clip_engaged_by_its_owner_does_not_make_its_hashtag_trend(client, services) -> None:
    erin, dave = await signup(client, "erin"), await signup(client, "dave")
    secret = await make_clip(client, services, erin, "just for me #secrettagxyz", visibility="private")
    public = await make_clip(client, services, dave, "for all #opentagxyz")
    now = time.time()
    async with running_role(services=services):
        assert (await client.put(f"/v1/clips/{secret}/like", headers=erin.auth)).status_code == 200
        assert (await client.post(f"/v1/clips/{secret}/comments", headers=erin.auth,
                                  json={"body": "note to self"})).status_code == 201
        await send(client, [event("play_start", secret, now), event("share", secret, now)], erin.auth)
        # The public clip gets the same engagement, so a pass proves the stream ran and counted.
        assert (await client.put(f"/v1/clips/{public}/like", headers=erin.auth)).status_code == 200
        await send(client, [event("play_start", public, now), event("share", public, now)], erin.auth)
        await wait_for_catch_up(services=services, timeout=60)
    tags = [t["tag"] for t in (await client.get("/v1/hashtags/trending")).json()["items"]]
    assert "opentagxyz" in tags
    assert "secrettagxyz" not in tags
    listed = [item["clip"]["id"] for item in (await client.get("/v1/trending")).json()["items"]]
    assert str(secret) not in listed and str(public) in listed
