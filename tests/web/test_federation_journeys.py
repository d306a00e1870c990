"""Federation in the web app, used as people use it: a viewer finds an account of another server
from the search box and follows it (the follow reaches that server), and an admin sets, lists
and changes remote servers' policies in /admin/federation, one by one and from a pasted list.

Two ``clipfeed serve`` of their own on loopback ports (home and peer), each running the
federation worker role in process and allowed plain http on loopback (as the federation tests'
servers are): the shared journey server federates with nobody. tests/js/federation_journeys.mjs
drives Debian's Chromium against home; screenshots (390×844 first, then 1440×900) land in
tests/web/artifacts/federation/."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import free_port, stop_process, wait_for_port
from tests.web.conftest import ARTIFACTS, built_app, js_modules, run_journeys, seen

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
ADMIN = {"handle": "fay_admin", "password": PASSWORD}
VIEWER = {"handle": "vic_federates", "password": PASSWORD}
BLOCKER = {"handle": "wes_walls", "password": PASSWORD}
FAR = {"handle": "bea_far", "password": PASSWORD, "display_name": "Bea from afar",
       "bio": "Skate clips from the other side of the bay."}


@dataclass
class Server:
    url: str
    host: str  # host:port, how other servers name it
    data_dir: Path


@contextmanager
def federating_server(root: Path) -> Iterator[Server]:
    """``clipfeed serve`` with the stream and federation roles in process, allowed plain http
    to other servers on this machine; no clips."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = root / "data"
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(data_dir), "CLIPFEED_PORT": str(port), "CLIPFEED_PUBLIC_URL": url,
           "CLIPFEED_INPROCESS_WORKERS": "stream,federation", "CLIPFEED_FEDERATION_ALLOW_HTTP": "true",
           "CLIPFEED_LOG_LEVEL": "WARNING"}
    log = open(root / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, server, timeout=90)
        yield Server(url=url, host=f"127.0.0.1:{port}", data_dir=data_dir)
    finally:
        stop_process(server, grace=15)
        log.close()


async def _seed_home(server: Server) -> None:
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import Role
    from clipfeed.bootstrap import bootstrap
    from clipfeed.settings import Settings

    services = await bootstrap(Settings(data_dir=server.data_dir, log_json=False, inprocess_workers="none",
                                        public_url=server.url))
    try:
        for who in (ADMIN, VIEWER, BLOCKER):
            await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                       settings=services.settings, email=f"{who['handle']}@example.com", **who)
        await accounts.set_role(db=services.db, cache=services.cache, handle=ADMIN["handle"], role=Role.admin)
        await services.outbox.flush()
    finally:
        await services.close()


def _seed_peer(server: Server) -> None:
    """The account to find, signed up and described through the peer's own API."""
    with httpx.Client(base_url=server.url, timeout=30) as peer:
        tokens = peer.post("/v1/auth/register", json={"handle": FAR["handle"], "email": "bea@example.com",
                                                      "password": PASSWORD})
        assert tokens.status_code == 201, tokens.text
        profile = peer.patch("/v1/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
                             json={"display_name": FAR["display_name"], "bio": FAR["bio"]})
        assert profile.status_code == 200, profile.text


def _as_admin(home: Server) -> httpx.Client:
    client = httpx.Client(base_url=home.url, timeout=30)
    login = client.post("/v1/auth/login", json={"login": ADMIN["handle"], "password": PASSWORD}).json()
    client.headers["Authorization"] = f"Bearer {login['access_token']}"
    return client


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    built_app()
    js_modules()
    with federating_server(tmp_path_factory.mktemp("home")) as home, \
            federating_server(tmp_path_factory.mktemp("peer")) as peer:
        asyncio.run(_seed_home(home))
        _seed_peer(peer)
        yield home, peer


@pytest.fixture(scope="module")
def journeys(servers: tuple[Server, Server]) -> dict[str, dict[str, Any]]:
    home, peer = servers
    setup: dict[str, object] = {"url": home.url, "admin": ADMIN, "viewer": VIEWER, "blocker": BLOCKER,
                                "peer": peer.host, "far": FAR,
                                "unreachable": f"127.0.0.1:{free_port()}"}  # a port nothing listens on
    return run_journeys("federation_journeys.mjs", setup, "federation")


def test_a_viewer_finds_an_account_of_another_server_and_follows_it(journeys, servers) -> None:
    home, peer = servers
    result = seen(journeys, "find_and_follow")
    assert result["anonymous"] == "Sign in to find accounts on other servers."
    account = f"{FAR['handle']}@{peer.host}"
    assert result["found"] == {"name": FAR["display_name"], "handle": f"@{account}", "from": f"From {peer.host}",
                               "bio": FAR["bio"]}
    assert result["followName"] == f"Follow @{account}"
    assert result["pressed"] == "true" and result["afterReload"] == "true"
    assert result["byUrl"] == f"@{account}"  # the same account from its profile address

    # The follow went to the peer: its own API lists the viewer among bea's followers.
    follower = f"{VIEWER['handle']}@{home.host}"
    deadline = time.monotonic() + 60
    followers: list[str] = []
    while time.monotonic() < deadline:
        page = httpx.get(f"{peer.url}/v1/users/{FAR['handle']}/followers", timeout=10).json()
        followers = [entry["user"]["handle"] for entry in page["items"]]
        if follower in followers:
            break
        time.sleep(0.25)
    assert followers == [follower]


def test_a_lookup_that_fails_says_why_and_other_searches_stay_searches(journeys, servers) -> None:
    home, peer = servers
    result = seen(journeys, "find_and_follow")
    unreachable = result["unreachable"]
    assert unreachable["alert"].startswith(f"No account nobody@{unreachable['server']} was found.")
    assert unreachable["retry"] == 1
    assert result["unknown"].startswith(f"No account nobody_here@{peer.host} was found.")
    ordinary = result["ordinary"]
    assert ordinary["tabs"] == ["Top", "Clips", "Creators", "Hashtags"] and ordinary["remoteSections"] == 0
    # Each account was looked up once per page load (the profile address naming the account
    # already shown asks nothing more); "@maker" and "kickflip" were searched, not looked up.
    assert ordinary["lookups"] == 0 and result["lookups"] == 4


def test_an_admin_sets_lists_and_changes_server_policies(journeys, servers) -> None:
    home, peer = servers
    result = seen(journeys, "server_policies")
    discovered = result["discovered"]  # met through the viewer's lookup
    assert discovered["policy"] == "none" and discovered["summary"].startswith("Last success: ")
    assert discovered["summary"].endswith(" · Failures in a row: 0 · Deliveries: Running")
    assert result["invalid"].startswith("“not a server!” is not a server name")
    assert result["added"] == "silence" and result["addedToast"] == "video.example set to Silence."
    assert result["dialog"] == "Suspend video.example?"
    assert result["afterCancel"] == "silence" and result["changed"] == "suspend"
    assert result["imported"] == "2 servers set to Reject media."
    assert result["refused"] == ["Line 3: “not a server” is not a server name"]
    expected = {peer.host: "none", "video.example": "suspend", "spam.example": "reject_media",
                "ads.example": "reject_media"}
    assert result["afterReload"] == expected

    admin = _as_admin(home)
    try:
        listed = admin.get("/v1/admin/federation/servers").json()["items"]
    finally:
        admin.close()
    assert {row["server"]: row["policy"] for row in listed} == expected


def test_a_viewer_blocks_a_server_from_its_accounts_card_and_unblocks_it_in_settings(journeys, servers) -> None:
    home, peer = servers
    result = seen(journeys, "block_server_from_search")
    account = f"{FAR['handle']}@{peer.host}"
    assert result["buttons"] == [f"Follow @{account}", f"Block server {peer.host}"]
    assert result["explain"].startswith("You will not see their clips, comments or notifications")
    assert result["focused"] == "Block server"  # the confirmation's own button, not the card's
    assert result["blockStatus"] == 200
    assert result["note"] == (f"You block {peer.host}: nobody there sees you, and you see nothing of theirs. "
                              "Blocked servers, in Settings")
    assert result["followWhileBlocked"] == 0 and result["afterReload"] == "true"
    assert result["listed"] == [f"{peer.host} Unblock"]
    assert result["followAgain"] == 1
    # The server kept what the card and Settings did: no block left.
    with httpx.Client(base_url=home.url, timeout=30) as client:
        login = client.post("/v1/auth/login", json={"login": BLOCKER["handle"], "password": PASSWORD}).json()
        blocks = client.get("/v1/me/domain-blocks", headers={"Authorization": f"Bearer {login['access_token']}"})
    assert blocks.status_code == 200 and blocks.json()["items"] == []


def test_the_console_is_refused_to_a_viewer(journeys) -> None:
    result = seen(journeys, "not_an_admin")
    assert result["denied"] == "Only admins can open the admin console."
    assert result["api"] == {"status": 403, "type": "application/problem+json"}


def test_federation_screenshots_at_phone_then_desktop_size(journeys) -> None:
    names = {path.name for path in (ARTIFACTS / "federation").glob("*.png")}
    assert {"search-remote-390x844.png", "search-remote-followed-390x844.png", "search-remote-1440x900.png",
            "search-remote-unreachable-390x844.png", "search-remote-block-confirm-390x844.png",
            "search-remote-blocked-390x844.png", "admin-federation-390x844.png",
            "admin-federation-suspend-390x844.png", "admin-federation-import-390x844.png",
            "admin-federation-1440x900.png"} <= names
