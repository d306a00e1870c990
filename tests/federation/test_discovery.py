"""Clips of other servers in discovery: out of search and For You's pools by default, in them
with ``federation_remote_in_discovery``, and out again when an admin silences their server."""

from __future__ import annotations

from typing import Any

import pytest

from clipfeed.accounts import service as accounts
from clipfeed.federation import admin, videos
from clipfeed.federation.models import DomainPolicy
from clipfeed.social import follows
from tests.federation.remote_fixtures import remote_account, video_of
from tests.helpers import signup, wait_for
from tests.social.support import ready_clip, stream_role


async def _searched(client: Any, token: dict[str, str], words: str) -> list[str]:
    found = await client.get("/v1/search", params={"q": words, "type": "clips"}, headers=token)
    assert found.status_code == 200, found.text
    return sorted(hit["clip"]["caption"] for hit in found.json()["clips"])


async def _a_followed_remote_clip(client: Any, services: Any, server: str, caption: str) -> Any:
    viewer = await signup(client, f"fan_{server.split('.')[0]}")
    peer = await remote_account(services, "maker", server=server)
    local = (await accounts.get_many(db=services.db, user_ids=[viewer.id]))[viewer.id]
    await follows.follow(services=services, follower=local, followee=peer)
    assert await videos.store(video_of("maker", 1, server=server, caption=caption), sender=peer,
                              services=services) is not None
    return viewer


async def test_a_remote_clip_stays_out_of_search_by_default(client, services) -> None:
    viewer = await _a_followed_remote_clip(client, services, "far.example", "lighthouse at dusk")
    async with stream_role(services=services):
        await ready_clip(client, services, viewer, caption="lighthouse at noon")

        async def indexed() -> bool:
            return "lighthouse at noon" in await _searched(client, viewer.auth, "lighthouse")

        await wait_for(indexed, timeout=60)
        assert await _searched(client, viewer.auth, "lighthouse") == ["lighthouse at noon"]


@pytest.mark.settings(federation_remote_in_discovery=True)
async def test_with_discovery_on_a_remote_clip_is_found_until_its_server_is_silenced(client, services) -> None:
    viewer = await _a_followed_remote_clip(client, services, "near.example", "harbour seals")
    async with stream_role(services=services):

        async def found() -> bool:
            return await _searched(client, viewer.auth, "seals") == ["harbour seals"]

        await wait_for(found, timeout=60)
        await admin.set_server_policy("near.example", DomainPolicy.silence, services=services)

        async def hidden() -> bool:  # the rule is re-read within seconds, at read time
            return await _searched(client, viewer.auth, "seals") == []

        await wait_for(hidden, timeout=30)
