"""What the moderation console reads and does beyond the queue: a case's subject and reports,
suspending and reinstating accounts, and who did what in the audit list."""

from __future__ import annotations

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from tests.helpers import PASSWORD, Account, assert_problem, signup


async def _with_role(client, services, handle: str, role: Role) -> Account:
    account = await signup(client, handle)
    await accounts.set_role(db=services.db, cache=services.cache, handle=handle, role=role)
    return account


async def _reported_clip(client, services, owner: Account, reporter: Account) -> tuple[str, str]:
    clip = (await client.post("/v1/clips", headers=owner.auth, json={"caption": "buy now #deal"})).json()
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=int(clip["id"]),
                                   status=ClipStatus.ready)
    reported = await client.post("/v1/reports", headers=reporter.auth, json={
        "kind": "clip", "id": clip["id"], "category": "spam", "note": "links to a shop in every clip"})
    return str(clip["id"]), reported.json()["case_id"]


async def test_a_case_shows_its_clip_and_the_reporters_notes_to_moderators_only(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    mod = await _with_role(client, services, "mod_mona", Role.moderator)
    clip_id, case_id = await _reported_clip(client, services, alice, bob)
    assert_problem(await client.get(f"/v1/moderation/cases/{case_id}", headers=bob.auth), 403)
    assert_problem(await client.get(f"/v1/moderation/cases/{case_id}", headers=alice.auth), 403)
    assert_problem(await client.get(f"/v1/moderation/cases/{case_id}"), 401)
    detail = (await client.get(f"/v1/moderation/cases/{case_id}", headers=mod.auth)).json()
    assert detail["subject"]["kind"] == "clip" and detail["subject"]["id"] == clip_id
    assert detail["subject"]["owner_handle"] == "alice" and detail["subject"]["text"] == "buy now #deal"
    assert detail["subject"]["exists"] and detail["subject"]["status"] == "ready"
    assert detail["subject"]["media"] == {}  # no renditions yet in this test: nothing to play
    [report] = detail["reports"]
    assert report["reporter_handle"] == "bob" and report["category"] == "spam"
    assert report["note"] == "links to a shop in every clip"


async def test_a_held_clip_comes_with_media_signed_for_review(client, services) -> None:
    alice = await signup(client, "alice")
    mod = await _with_role(client, services, "mod_mona", Role.moderator)
    clip = (await client.post("/v1/clips", headers=alice.auth, json={"caption": "held"})).json()
    media = {"hls": f"clips/{clip['id']}/hls/master.m3u8", "poster": f"clips/{clip['id']}/img/poster.webp",
             "quality": {"flags": ["black", "silent"]}}
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=int(clip["id"]),
                                   status=ClipStatus.review, reason="screening: nudity 0.91", media=media)
    from clipfeed.moderation import service as moderation

    case = await moderation.enqueue(db=services.db, outbox=services.outbox, ids=services.ids,
                                    subject_kind="clip", subject_id=int(clip["id"]), source="auto",
                                    reason="screening: nudity 0.91", scores={"nudity": 0.91},
                                    subject_owner_id=alice.id)
    detail = (await client.get(f"/v1/moderation/cases/{case.id}", headers=mod.auth)).json()
    subject = detail["subject"]
    assert detail["scores"] == {"nudity": 0.91}
    assert subject["status"] == "review" and subject["quality_flags"] == ["black", "silent"]
    assert "/media/s/" in subject["media"]["hls"] and subject["media"]["hls"].endswith("/hls/master.m3u8")


async def test_a_held_comment_shows_its_body_and_author(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    mod = await _with_role(client, services, "mod_mona", Role.moderator)
    clip_id, _ = await _reported_clip(client, services, alice, bob)
    comment = (await client.post(f"/v1/clips/{clip_id}/comments", headers=bob.auth, json={"body": "nice one"})).json()
    reported = await client.post("/v1/reports", headers=alice.auth, json={
        "kind": "comment", "id": comment["id"], "category": "harassment", "note": "mean"})
    detail = (await client.get(f"/v1/moderation/cases/{reported.json()['case_id']}", headers=mod.auth)).json()
    assert detail["subject"]["text"] == "nice one" and detail["subject"]["owner_handle"] == "bob"
    assert detail["subject"]["clip_id"] == clip_id


async def test_moderators_suspend_and_reinstate_accounts_and_the_audit_names_them(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    mod = await _with_role(client, services, "mod_mona", Role.moderator)
    reason = {"reason": "spam ring"}
    assert_problem(await client.post("/v1/moderation/users/@alice/suspend", headers=bob.auth, json=reason), 403)
    assert_problem(await client.post("/v1/moderation/users/@alice/suspend", json=reason), 401)
    assert_problem(await client.post("/v1/moderation/users/@alice/suspend", headers=mod.auth,
                                     json={"reason": "  "}), 422)
    suspended = await client.post("/v1/moderation/users/@alice/suspend", headers=mod.auth, json=reason)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "rejected" and suspended.json()["source"] == "moderator"
    assert_problem(await client.get("/v1/me", headers=alice.auth), 401)
    assert_problem(await client.post("/v1/auth/login", json={"login": "alice", "password": PASSWORD}), 403)
    assert_problem(await client.post("/v1/moderation/users/@alice/suspend", headers=mod.auth, json=reason), 400)
    assert_problem(await client.post("/v1/moderation/users/@alice/reinstate", headers=bob.auth, json=reason), 403)
    lifted = await client.post(f"/v1/moderation/users/{alice.id}/reinstate", headers=mod.auth,
                               json={"reason": "appeal accepted"})
    assert lifted.status_code == 200 and lifted.json()["status"] == "approved"
    assert (await client.post("/v1/auth/login", json={"login": "alice", "password": PASSWORD})).status_code == 200
    audit = (await client.get("/v1/moderation/audit", headers=mod.auth)).json()["items"]
    decided = [(e["action"], e["actor_handle"], e["detail"]) for e in audit if e["actor_id"]]
    assert ("rejected", "mod_mona", "spam ring") in decided and ("approved", "mod_mona", "appeal accepted") in decided
    assert ("opened", "mod_mona", "moderator: suspension by @mod_mona") in decided
    assert_problem(await client.get("/v1/moderation/audit", headers=bob.auth), 403)


async def test_only_an_admin_suspends_a_moderator_and_nobody_themselves(client, services) -> None:
    mod = await _with_role(client, services, "mod_mona", Role.moderator)
    await _with_role(client, services, "mod_max", Role.moderator)
    admin = await _with_role(client, services, "admin_ada", Role.admin)
    assert_problem(await client.post("/v1/moderation/users/@mod_max/suspend", headers=mod.auth,
                                     json={"reason": "x"}), 403)
    assert_problem(await client.post("/v1/moderation/users/@mod_mona/suspend", headers=mod.auth,
                                     json={"reason": "x"}), 400)
    assert_problem(await client.post("/v1/moderation/users/@nobody_here/suspend", headers=mod.auth,
                                     json={"reason": "x"}), 404)
    done = await client.post("/v1/moderation/users/@mod_max/suspend", headers=admin.auth, json={"reason": "x"})
    assert done.status_code == 200
