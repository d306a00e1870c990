"""Admins' federation work on one server: suspending a server removes what is stored from it,
blocklist files, and ``clipfeed federation status|policy`` as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.federation import admin, videos
from clipfeed.federation.models import Delivery, DomainPolicy
from clipfeed.social import follows
from tests.federation.http_origin import origin_server
from tests.federation.remote_fixtures import SERVER, remote_account, video_of
from tests.helpers import assert_problem, signup

CLIPFEED = str(Path(sys.executable).parent / "clipfeed")


async def test_suspending_a_server_removes_its_clips_accounts_follows_and_queued_deliveries(client, services) -> None:
    viewer = await signup(client, "viewer")
    peer = await remote_account(services, "maker")
    local = (await accounts.get_many(db=services.db, user_ids=[viewer.id]))[viewer.id]
    await follows.follow(services=services, follower=local, followee=peer)
    clip_id = await videos.store(video_of("maker", 1), sender=peer, services=services)
    assert clip_id is not None
    shown = await client.get(f"/v1/clips/{clip_id}", headers=viewer.auth)
    assert shown.status_code == 200 and shown.json()["media"]["hls"] == f"https://{SERVER}/hls/1.m3u8"
    async with services.db.session() as session:
        session.add(Delivery(id=services.ids.next_id(), inbox=f"https://{SERVER}/inbox", domain=SERVER,
                             signer_id=viewer.id, activity_id="x", body=b"{}"))

    outcome = await admin.set_server_policy(SERVER, DomainPolicy.suspend, services=services)

    assert outcome == "suspended (1 clips removed)"
    assert (await client.get(f"/v1/clips/{clip_id}", headers=viewer.auth)).status_code == 404
    assert (await client.get(f"/v1/users/{peer.id}")).status_code == 404
    async with services.db.session() as session:
        assert (await session.scalars(sa.select(Delivery.id).where(Delivery.domain == SERVER))).all() == []
    # A clip it sends now is not stored (its inbox requests are refused before that, too).
    assert await videos.store(video_of("maker", 2), sender=peer, services=services) is None

    lifted = await admin.set_server_policy(SERVER, DomainPolicy.none, services=services)
    assert lifted == "none (accounts reinstated)"
    assert (await client.get(f"/v1/users/{peer.id}")).status_code == 200
    assert (await client.get(f"/v1/clips/{clip_id}", headers=viewer.auth)).status_code == 404  # stays removed


def test_a_blocklist_file_is_read_as_mastodon_exports_it() -> None:
    text = "#domain,#severity\nbad.example,suspend\n# a comment\n\nWorse.Example:8443\nnot a host\n"
    assert admin.parse_list(text) == ["bad.example", "worse.example:8443", "not a host"]


async def test_bad_names_in_a_list_are_reported_and_the_rest_applied(services) -> None:
    outcomes = await admin.apply_policy(["good.example", "not a host", "x" * 300], DomainPolicy.silence,
                                        services=services)
    assert outcomes[0] == ("good.example", "silence")
    assert [o.startswith("skipped") for _, o in outcomes[1:]] == [True, True]


def test_the_cli_applies_a_list_and_reports_status(tmp_path: Path) -> None:
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(tmp_path / "var"), "CLIPFEED_LOG_JSON": "false", "COLUMNS": "200"}
    subprocess.run([CLIPFEED, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    listed = tmp_path / "blocklist.csv"
    listed.write_text("#domain,#severity\nspam.example,suspend\nads.example,suspend\n")
    applied = subprocess.run([CLIPFEED, "federation", "policy", "suspend", "--from", str(listed)], env=env,
                             capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stderr
    assert "spam.example: suspended (0 clips removed)" in applied.stdout
    shown = subprocess.run([CLIPFEED, "federation", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "deliveries waiting: 0" in shown.stdout
    assert "ads.example" in shown.stdout and "suspend" in shown.stdout


async def test_a_policy_by_software_reaches_every_server_met_that_runs_it(services) -> None:
    from clipfeed.federation.models import RemoteInstance

    async with services.db.session() as session:
        session.add_all([RemoteInstance(domain=name, policy="none", failures=0, software=software)
                         for name, software in (("one.example", "misskey"), ("two.example", "misskey"),
                                                ("three.example", "mastodon"))])
    outcomes = await admin.apply_to_software("Misskey", DomainPolicy.silence, services=services)
    assert outcomes == [("one.example", "silence"), ("two.example", "silence")]
    async with services.db.session() as session:
        untouched = await session.get(RemoteInstance, "three.example")
    assert untouched is not None and untouched.policy == "none"


async def test_only_admins_set_a_policy_by_software_through_the_api(client, services) -> None:
    from clipfeed.accounts.models import Role
    from clipfeed.federation.models import RemoteInstance

    async with services.db.session() as session:
        session.add(RemoteInstance(domain="noisy.example", policy="none", failures=0, software="misskey"))
    viewer = await signup(client, "plain")
    refused = await client.put("/v1/admin/federation/software/misskey", headers=viewer.auth,
                               json={"policy": "silence"})
    assert refused.status_code == 403
    boss = await signup(client, "boss")
    await accounts.set_role(db=services.db, cache=services.cache, handle="boss", role=Role.admin)
    done = await client.put("/v1/admin/federation/software/misskey", headers=boss.auth, json={"policy": "silence"})
    assert done.status_code == 200, done.text
    assert [(row["server"], row["policy"]) for row in done.json()["items"]] == [("noisy.example", "silence")]


@pytest.mark.settings(federation_allow_http=True)
async def test_a_policy_by_software_also_reaches_servers_met_later(services, tmp_path: Path) -> None:
    """A server's software is read from its real NodeInfo when it is first met; the policy an
    admin set for that software then applies, unless the server has its own."""
    from clipfeed.federation import policy, remote
    from clipfeed.federation.models import RemoteInstance

    assert await admin.apply_to_software("misskey", DomainPolicy.silence, services=services) == []  # none met yet

    async def meet(software: str, own: str = "none") -> str:
        root = tmp_path / software / own
        (root / ".well-known").mkdir(parents=True)
        (root / "nodeinfo").mkdir()
        with origin_server(root) as server:
            (root / ".well-known" / "nodeinfo").write_text(json.dumps({"links": [
                {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": server.url("nodeinfo/2.1")}]}))
            (root / "nodeinfo" / "2.1").write_text(json.dumps({"software": {"name": software, "version": "1"}}))
            async with services.db.session() as session:
                session.add(RemoteInstance(domain=server.host, policy=own, failures=0))
            assert await remote.learn_software(server.host, scheme="http", services=services) == software.lower()
            return server.host

    later = await meet("Misskey")
    assert await policy.policy_of(later, services=services) == DomainPolicy.silence
    own = await meet("misskey", own="allow")
    assert await policy.policy_of(own, services=services) == DomainPolicy.allow  # its own policy wins
    other = await meet("mastodon")
    assert await policy.policy_of(other, services=services) == DomainPolicy.none

    assert await admin.apply_to_software("misskey", DomainPolicy.none, services=services) == []  # forgotten
    assert await admin.software_policies(services=services) == {}
    assert await policy.policy_of(later, services=services) == DomainPolicy.silence  # servers keep theirs
    after = await meet("misskey", own="none")
    assert await policy.policy_of(after, services=services) == DomainPolicy.none


async def test_admins_choose_per_server_whether_its_clips_are_cached_or_streamed(client, services) -> None:
    from clipfeed.accounts.models import Role
    from clipfeed.federation import media_cache
    from clipfeed.federation.models import MediaMode

    viewer = await signup(client, "plain")
    assert (await client.put("/v1/admin/federation/servers/videos.example", headers=viewer.auth,
                             json={"media": "cache"})).status_code == 403
    assert await media_cache.mode_for("videos.example", services=services) == MediaMode.stream
    boss = await signup(client, "boss2")
    await accounts.set_role(db=services.db, cache=services.cache, handle="boss2", role=Role.admin)
    cached = await client.put("/v1/admin/federation/servers/Videos.Example", headers=boss.auth, json={"media": "cache"})
    assert cached.status_code == 200, cached.text
    assert (cached.json()["server"], cached.json()["media"], cached.json()["media_effective"],
            cached.json()["policy"]) == ("videos.example", "cache", "cache", "none")
    assert await media_cache.mode_for("videos.example", services=services) == MediaMode.cache
    both = await client.put("/v1/admin/federation/servers/videos.example", headers=boss.auth,
                            json={"media": "default", "policy": "silence"})
    assert (both.json()["media"], both.json()["media_effective"], both.json()["policy"]) == (None, "stream", "silence")
    empty = await client.put("/v1/admin/federation/servers/videos.example", headers=boss.auth, json={})
    assert_problem(empty, 422)
    wrong = await client.put("/v1/admin/federation/servers/videos.example", headers=boss.auth, json={"media": "copy"})
    assert_problem(wrong, 422)
