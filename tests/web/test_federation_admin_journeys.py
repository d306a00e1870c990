"""The admin console's Federation tab, used as an admin uses it: how a remote server's clips are
played (streamed from it or cached here), and policies by software, which also reach servers met
later.

Two ``clipfeed serve`` on loopback ports (home and peer), started as test_federation_journeys.py
starts them; home meets peer through an account lookup, and reads peer's software from its
NodeInfo, before the journeys run. tests/js/federation_admin_journeys.mjs drives Debian's
Chromium against home; screenshots (390×844 first, then 1440×900) land in
tests/web/artifacts/federation-admin/."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import ARTIFACTS, built_app, js_modules, run_journeys, seen
from tests.web.test_federation_journeys import (
    ADMIN,
    FAR,
    Server,
    _as_admin,
    _seed_home,
    _seed_peer,
    federating_server,
)

pytestmark = pytest.mark.slow
SOFTWARE = "clipfeed"  # what a Clipfeed server's NodeInfo names


def _meet(home: Server, peer: Server) -> None:
    """Home looks an account of peer up (as a person searching for it would), which records
    peer as a server met; its software is read from its NodeInfo right after, in the background."""
    admin = _as_admin(home)
    try:
        found = admin.get("/v1/federation/lookup", params={"account": f"{FAR['handle']}@{peer.host}"})
        assert found.status_code == 200, found.text
        deadline = time.monotonic() + 60
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            rows = admin.get("/v1/admin/federation/servers").json()["items"]
            if [row.get("software") for row in rows if row["server"] == peer.host] == [SOFTWARE]:
                return
            time.sleep(0.25)
        raise AssertionError(f"home did not learn peer's software: {rows}")
    finally:
        admin.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    built_app()
    js_modules()
    with federating_server(tmp_path_factory.mktemp("home")) as home, \
            federating_server(tmp_path_factory.mktemp("peer")) as peer:
        asyncio.run(_seed_home(home))
        _seed_peer(peer)
        _meet(home, peer)
        yield home, peer


@pytest.fixture(scope="module")
def journeys(servers: tuple[Server, Server]) -> dict[str, dict[str, Any]]:
    home, peer = servers
    setup: dict[str, object] = {"url": home.url, "admin": ADMIN, "peer": peer.host, "software": SOFTWARE}
    return run_journeys("federation_admin_journeys.mjs", setup, "federation-admin")


def test_an_admin_has_a_servers_clips_cached_here_and_it_is_kept(journeys, servers) -> None:
    home, peer = servers
    result = seen(journeys, "server_media")
    # Met just now, with no setting of its own: its clips play from it, as the instance's say.
    assert result["before"] == {"media": "default", "effective": "stream", "playing": "Clips play from the server.",
                                "shown": "Instance default (stream)"}
    assert result["choices"] == ["Stream from the server", "Cache here", "Instance default (stream)"]
    assert result["saveDisabled"] is True
    assert result["cachedToast"] == f"{peer.host}: its clips will be cached here."
    cached = {"media": "cache", "effective": "cache", "playing": "Clips are cached here.", "shown": "Cache here"}
    assert result["cached"] == cached
    assert result["afterReload"] == cached  # what the server kept
    assert result["defaultToast"] == f"{peer.host}: its clips follow the instance default (stream)."
    assert result["backToDefault"] == result["before"]

    admin = _as_admin(home)
    try:
        row = next(row for row in admin.get("/v1/admin/federation/servers").json()["items"]
                   if row["server"] == peer.host)
    finally:
        admin.close()
    assert (row["media"], row["media_effective"]) == (None, "stream")


def test_an_admin_sets_a_policy_by_software_sees_it_listed_and_forgets_it(journeys, servers) -> None:
    home, peer = servers
    result = seen(journeys, "software_policies")
    assert result["intro"] == ("Each applies to the servers running that software (as their NodeInfo names it): "
                               "those met so far, and those met later.")
    assert result["emptyBefore"] == "No policy by software yet."
    assert result["invalid"].startswith("“not valid!” is not a software name")
    # Typed in capitals with spaces around, sent as the API names software.
    assert result["setToast"] == f"{SOFTWARE} set to Silence: 1 server met so far, and those met later."
    assert result["listed"] == {"policy": "silence", "text": f"{SOFTWARE} Silence Forget", "field": ""}
    assert result["peerPolicy"] == "silence"  # the server met so far that runs it
    assert result["afterReload"] == [[SOFTWARE, "silence"]]
    # Forgetting may also set the servers met so far back to no policy (the API answers those it
    # changed): the toast says so exactly when the peer's row shows it.
    forgotten = f"The policy for {SOFTWARE} is forgotten"
    assert result["forgetToast"] == (f"{forgotten}; 1 server met so far is back to No policy."
                                     if result["afterForget"]["peerPolicy"] == "none" else f"{forgotten}.")
    assert result["afterForget"]["items"] == 0
    assert result["afterForget"]["empty"] == "No policy by software yet."

    admin = _as_admin(home)
    try:
        remembered = admin.get("/v1/admin/federation/software").json()["items"]
    finally:
        admin.close()
    assert remembered == []


def test_federation_admin_screenshots_at_phone_then_desktop_size(journeys) -> None:
    names = {path.name for path in (ARTIFACTS / "federation-admin").glob("*.png")}
    assert {"admin-federation-media-390x844.png", "admin-federation-software-390x844.png",
            "admin-federation-software-1440x900.png"} <= names
