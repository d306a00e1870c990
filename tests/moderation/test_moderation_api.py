"""Reports, the review queue and decisions, with two to seven users."""

from __future__ import annotations

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from tests.helpers import PASSWORD, Account, assert_problem, signup


async def _moderator(client, services) -> Account:
    mod = await signup(client, "mod_mona")
    await accounts.set_role(db=services.db, cache=services.cache, handle="mod_mona", role=Role.moderator)
    return mod


async def _ready_clip(client, services, owner: Account, caption: str = "look #here") -> str:
    clip = (await client.post("/v1/clips", headers=owner.auth, json={"caption": caption})).json()
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=int(clip["id"]),
                                   status=ClipStatus.ready)
    return str(clip["id"])


async def test_a_report_opens_one_case_that_only_moderators_see(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    mod = await _moderator(client, services)
    clip_id = await _ready_clip(client, services, alice)
    for _ in range(2):  # the same reporter twice counts once
        reported = await client.post("/v1/reports", headers=bob.auth,
                                     json={"kind": "clip", "id": clip_id, "category": "spam", "note": "ads"})
        assert reported.status_code == 202
    assert_problem(await client.get("/v1/moderation/queue", headers=bob.auth), 403)
    assert_problem(await client.get("/v1/moderation/queue"), 401)
    queue = (await client.get("/v1/moderation/queue", headers=mod.auth)).json()
    assert len(queue["items"]) == 1
    case = queue["items"][0]
    assert case["subject_id"] == clip_id and case["report_count"] == 1 and case["source"] == "report"


async def test_reports_cannot_target_own_or_invisible_things(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    own = await _ready_clip(client, services, alice)
    assert_problem(await client.post("/v1/reports", headers=alice.auth,
                                     json={"kind": "clip", "id": own, "category": "spam"}), 400)
    private = (await client.post("/v1/clips", headers=alice.auth, json={"visibility": "private"})).json()["id"]
    assert_problem(await client.post("/v1/reports", headers=bob.auth,
                                     json={"kind": "clip", "id": private, "category": "spam"}), 404)
    assert_problem(await client.post("/v1/reports", headers=bob.auth,
                                     json={"kind": "clip", "id": 12345, "category": "spam"}), 404)
    assert_problem(await client.post("/v1/reports", headers=bob.auth,
                                     json={"kind": "clip", "id": own, "category": "because"}), 422)


async def test_enough_reports_hide_a_clip_until_a_moderator_decides(client, services) -> None:
    services.settings.moderation_report_hide_threshold = 3
    alice = await signup(client, "alice")
    mod = await _moderator(client, services)
    clip_id = await _ready_clip(client, services, alice)
    reporters = [await signup(client, f"rep{n}") for n in range(3)]
    for reporter in reporters:
        await client.post("/v1/reports", headers=reporter.auth, json={"kind": "clip", "id": clip_id,
                                                                      "category": "violence"})
    assert_problem(await client.get(f"/v1/clips/{clip_id}", headers=reporters[0].auth), 404)
    assert (await client.get(f"/v1/clips/{clip_id}", headers=alice.auth)).json()["status"] == "review"
    case_id = (await client.get("/v1/moderation/queue", headers=mod.auth)).json()["items"][0]["id"]
    approved = await client.post(f"/v1/moderation/cases/{case_id}/approve", headers=mod.auth,
                                 json={"reason": "fine"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert (await client.get(f"/v1/clips/{clip_id}", headers=reporters[0].auth)).json()["status"] == "ready"
    again = await client.post(f"/v1/moderation/cases/{case_id}/reject", headers=mod.auth, json={"reason": "x"})
    assert_problem(again, 409)


async def test_rejection_takes_the_clip_down_and_tells_the_creator_why(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    mod = await _moderator(client, services)
    clip_id = await _ready_clip(client, services, alice)
    await client.post("/v1/reports", headers=bob.auth, json={"kind": "clip", "id": clip_id, "category": "hate"})
    case_id = (await client.get("/v1/moderation/queue", headers=mod.auth)).json()["items"][0]["id"]
    assert_problem(await client.post(f"/v1/moderation/cases/{case_id}/reject", headers=mod.auth,
                                     json={"reason": "  "}), 400)
    assert_problem(await client.post(f"/v1/moderation/cases/{case_id}/reject", headers=bob.auth,
                                     json={"reason": "I say so"}), 403)
    rejected = await client.post(f"/v1/moderation/cases/{case_id}/reject", headers=mod.auth,
                                 json={"reason": "hateful symbols"})
    assert rejected.status_code == 200
    assert_problem(await client.get(f"/v1/clips/{clip_id}", headers=bob.auth), 404)
    mine = (await client.get(f"/v1/clips/{clip_id}", headers=alice.auth)).json()
    assert mine["status"] == "rejected" and "hateful symbols" in mine["status_reason"]
    audit = (await client.get(f"/v1/moderation/audit?case_id={case_id}", headers=mod.auth)).json()
    assert [e["action"] for e in reversed(audit["items"])] == ["opened", "reported", "rejected"]
    assert (await client.get("/v1/moderation/queue", headers=mod.auth)).json()["items"] == []


async def test_a_rejected_user_report_suspends_the_account(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    mod = await _moderator(client, services)
    await client.post("/v1/reports", headers=alice.auth, json={"kind": "user", "id": str(bob.id),
                                                               "category": "harassment"})
    case_id = (await client.get("/v1/moderation/queue?kind=user", headers=mod.auth)).json()["items"][0]["id"]
    await client.post(f"/v1/moderation/cases/{case_id}/reject", headers=mod.auth, json={"reason": "threats"})
    assert_problem(await client.get("/v1/me", headers=bob.auth), 401)
    assert_problem(await client.post("/v1/auth/login", json={"login": "bob", "password": PASSWORD}), 403)
    assert_problem(await client.get("/v1/users/bob"), 404)
