"""Blocking a whole server in the web app, used as people use it: from the profile menu of an
account of another server (with a confirmation), then unblocking it, and blocking another, from
Settings → Blocked servers (tests/js/domain_block_journeys.mjs).

A ``clipfeed serve`` of its own with one local clip, seeded with an account of a made-up server
(remy@peer.example) as federation stores it, which the viewer follows and whose clip is stored
here; no network is involved (the server runs no federation worker, so nothing is delivered).
Phone-size screenshots land in tests/web/artifacts/domain-blocks/."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.web.conftest import WebStack, run_journeys, seen, serve_stack

pytestmark = pytest.mark.slow
VIEWER = {"handle": "vera_blocks", "password": "correct horse battery"}
FRIEND = {"handle": "fred_follows", "password": "correct horse battery"}
SERVER = "peer.example"
REMOTE = f"remy@{SERVER}"


async def _seed(stack: WebStack) -> None:
    from clipfeed.accounts import service as accounts
    from clipfeed.bootstrap import bootstrap
    from clipfeed.federation import videos
    from clipfeed.settings import Settings
    from clipfeed.social import follows
    from tests.federation.remote_fixtures import remote_account, video_of

    assert stack.data_dir is not None
    services = await bootstrap(Settings(data_dir=stack.data_dir, log_json=False, inprocess_workers="none",
                                        public_url=stack.url))
    try:
        remy = await remote_account(services, "remy", server=SERVER)
        for who in (VIEWER, FRIEND):
            local = await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                               settings=services.settings, email=f"{who['handle']}@example.com", **who)
            await follows.follow(services=services, follower=local, followee=remy)
        assert await videos.store(video_of("remy", 1, server=SERVER, caption="remy's harbour"), sender=remy,
                                  services=services) is not None
        await services.outbox.flush()
    finally:
        await services.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    with serve_stack(tmp_path_factory.mktemp("domain-blocks"), clips=1) as served:
        asyncio.run(_seed(served))
        yield served


@pytest.fixture(scope="module")
def journey(stack: WebStack) -> dict[str, Any]:
    journeys = run_journeys("domain_block_journeys.mjs", {"url": stack.url, "viewer": VIEWER, "remote": REMOTE,
                                                           "friend": FRIEND["handle"], "server": SERVER},
                            "domain-blocks")
    return seen(journeys, "block_and_unblock_a_server")


def _blocked_servers(stack: WebStack) -> list[str]:
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        login = client.post("/v1/auth/login", json={"login": VIEWER["handle"], "password": VIEWER["password"]})
        assert login.status_code == 200, login.text
        page = client.get("/v1/me/domain-blocks", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert page.status_code == 200, page.text
        return [item["domain"] for item in page.json()["items"]]


def test_blocking_a_server_from_a_profile_asks_first_then_hides_its_clips_and_ends_the_follow(journey) -> None:
    assert journey["mine"] == [f"/@{REMOTE}"]  # how the viewer reached the profile
    assert journey["before"] == {"clips": 1, "following": "true"}
    assert f"Block server {SERVER}" in journey["menuItems"]
    assert journey["confirmText"].startswith("You will not see their clips, comments or notifications")
    assert journey["focused"] == "Block server"  # the confirmation takes the focus
    assert journey["blockStatus"] == 200
    assert journey["after"] == {"clips": 0, "followButtons": 0}  # nor can the viewer follow anyone there
    assert journey["unblockOffered"] == 1
    assert journey["friendsWhileBlocked"] == []  # remy is out of other people's lists too


def test_settings_lists_blocked_servers_blocks_another_and_unblocks(journey, stack) -> None:
    [listed] = journey["listed"]
    assert listed.startswith(SERVER) and "Unblock" in listed
    assert "not a server's name" in journey["refusal"]
    assert [item.split(" ")[0] for item in journey["afterAdding"]] == ["other.example", SERVER]
    assert journey["unblockStatus"] == 200
    assert [item.split(" ")[0] for item in journey["afterUnblock"]] == ["other.example"]
    assert _blocked_servers(stack) == ["other.example"]


def test_after_the_unblock_the_clips_are_back_but_not_the_follow(journey) -> None:
    assert journey["friendsAfter"] == [f"/@{REMOTE}"]
    assert journey["back"] == {"clips": 1, "following": "false"}

