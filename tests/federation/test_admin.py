"""Admins' federation work on one server: suspending a server removes what is stored from it,
blocklist files, and ``clipfeed federation status|policy`` as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.federation import admin, videos
from clipfeed.federation.models import Delivery, DomainPolicy
from clipfeed.social import follows
from tests.federation.remote_fixtures import SERVER, remote_account, video_of
from tests.helpers import signup

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
