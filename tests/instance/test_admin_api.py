"""The admin console's API: settings overridden over the environment's values, registration
modes and invite codes, the audit, the storage report and service health; admins only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role
from clipfeed.bootstrap import bootstrap
from clipfeed.instance import service as instance
from clipfeed.media import screening
from tests.helpers import PASSWORD, assert_problem, signup, wait_for
from tests.uploads.tus import SAMPLE, TUS, create, send_all

ADMIN_ROUTES = [
    ("GET", "/v1/admin/settings", None), ("PUT", "/v1/admin/settings/instance_name", {"value": "Mine"}),
    ("DELETE", "/v1/admin/settings/instance_name", None), ("GET", "/v1/admin/invites", None),
    ("POST", "/v1/admin/invites", {"note": "x"}), ("DELETE", "/v1/admin/invites/ABCDEFGH", None),
    ("GET", "/v1/admin/audit", None), ("GET", "/v1/admin/storage", None), ("GET", "/v1/admin/health", None)]


async def _people(client, services):
    admin, mod, user = (await signup(client, "chief"), await signup(client, "warden"), await signup(client, "pat"))
    await accounts.set_role(db=services.db, cache=services.cache, handle="chief", role=Role.admin)
    await accounts.set_role(db=services.db, cache=services.cache, handle="warden", role=Role.moderator)
    return admin, mod, user


def _register(handle: str, **extra: str) -> dict[str, str]:
    return {"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD, **extra}


async def test_only_admins_reach_the_admin_routes(client, services) -> None:
    admin, mod, user = await _people(client, services)
    for method, path, body in ADMIN_ROUTES:
        assert_problem(await client.request(method, path, json=body), 401)
        for someone in (mod, user):
            refused = assert_problem(await client.request(method, path, json=body, headers=someone.auth), 403)
            assert refused["detail"] == "admins only"
    assert (await client.get("/v1/admin/settings", headers=admin.auth)).status_code == 200


async def test_an_override_replaces_the_environment_value_until_reset_and_is_audited(client, services) -> None:
    admin, _, _ = await _people(client, services)
    assert (await client.get("/v1/instance")).json() == {
        "name": "Clipfeed", "description": "", "registration_mode": "open"}
    changed = await client.put("/v1/admin/settings/instance_name", headers=admin.auth, json={"value": "  Rollfilm "})
    assert changed.status_code == 200, changed.text
    assert changed.json() | {"updated_at": None} == {
        "name": "instance_name", "section": "instance", "kind": "text", "value": "Rollfilm",
        "environment_value": "Clipfeed", "environment_variable": "CLIPFEED_INSTANCE_NAME", "overridden": True,
        "choices": None, "minimum": None, "maximum": None, "updated_at": None, "updated_by_handle": "chief"}
    assert (await client.get("/v1/instance")).json()["name"] == "Rollfilm"

    listed = {s["name"]: s for s in (await client.get("/v1/admin/settings", headers=admin.auth)).json()["items"]}
    assert set(listed) == {"instance_name", "instance_description", "registration_mode", "upload_max_bytes",
                           "upload_max_duration_s", "screening_policy"}
    assert listed["registration_mode"]["choices"] == ["open", "closed", "invite"]
    assert not listed["upload_max_bytes"]["overridden"]
    assert listed["screening_policy"]["value"]["nsfw"] == [0.45, 0.85]

    reset = await client.delete("/v1/admin/settings/instance_name", headers=admin.auth)
    assert reset.json()["value"] == "Clipfeed" and not reset.json()["overridden"]
    assert (await client.get("/v1/instance")).json()["name"] == "Clipfeed"

    log = (await client.get("/v1/admin/audit", headers=admin.auth)).json()["items"]
    assert [(e["action"], e["subject"], e["old"], e["new"], e["actor_handle"]) for e in log] == [
        ("reset", "instance_name", "Rollfilm", "Clipfeed", "chief"),
        ("set", "instance_name", "Clipfeed", "Rollfilm", "chief")]


async def test_bad_values_get_a_problem_naming_what_is_wrong(client, services) -> None:
    admin, _, _ = await _people(client, services)

    async def put(name: str, value: object, status: int) -> str:
        return str(assert_problem(await client.put(f"/v1/admin/settings/{name}", headers=admin.auth,
                                                   json={"value": value}), status)["detail"])

    assert "no setting 'log_url'" in await put("log_url", "x", 404)
    assert "registration_mode" in await put("registration_mode", "sometimes", 422)
    await put("upload_max_bytes", "lots", 422)
    await put("upload_max_bytes", 10, 422)
    await put("upload_max_bytes", 1.5 * 1024 * 1024, 422)
    await put("instance_name", "", 422)
    await put("instance_name", "bad\u202ename", 422)
    assert "CLIPFEED_MEDIA_MAX_DURATION_S" in await put("upload_max_duration_s", 3600, 422)
    assert "minimum duration" in await put("upload_max_duration_s", 1, 422)
    assert "above the reject threshold" in await put("screening_policy", {"nsfw": [0.9, 0.5]}, 422)
    await put("screening_policy", {"nudity": [0.1, 0.2]}, 422)
    await put("screening_policy", {"nsfw": [0.1, 5]}, 422)
    assert_problem(await client.put("/v1/admin/settings/instance_name", headers=admin.auth,
                                    json={"value": "x", "also": 1}), 422)
    assert (await client.get("/v1/admin/audit", headers=admin.auth)).json()["items"] == []


async def test_closed_registration_refuses_sign_ups_with_a_clear_problem(client, services) -> None:
    admin, _, _ = await _people(client, services)
    await client.put("/v1/admin/settings/registration_mode", headers=admin.auth, json={"value": "closed"})
    assert (await client.get("/v1/instance")).json()["registration_mode"] == "closed"
    refused = assert_problem(await client.post("/v1/auth/register", json=_register("late")), 403)
    assert refused["reason"] == "registration-closed" and "closed" in refused["detail"]
    await client.delete("/v1/admin/settings/registration_mode", headers=admin.auth)
    assert (await client.post("/v1/auth/register", json=_register("late"))).status_code == 201


async def test_invite_only_registration_spends_each_code_once(client, services) -> None:
    admin, _, _ = await _people(client, services)
    await client.put("/v1/admin/settings/registration_mode", headers=admin.auth, json={"value": "invite"})
    assert assert_problem(await client.post("/v1/auth/register", json=_register("nocode")), 403)[
        "reason"] == "invite-required"
    made = await client.post("/v1/admin/invites", headers=admin.auth, json={"note": "for Sam"})
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    assert len(code) == 16 and made.json()["state"] == "unused"
    assert assert_problem(await client.post("/v1/auth/register", json=_register("guess", invite_code="WRONG")),
                          403)["reason"] == "invite-invalid"

    typed = f"{code[:4].lower()}-{code[4:8]} {code[8:]}"  # case, dashes and spaces do not matter
    assert (await client.post("/v1/auth/register", json=_register("sam", invite_code=typed))).status_code == 201
    assert_problem(await client.post("/v1/auth/register", json=_register("sam2", invite_code=code)), 403)
    assert_problem(await client.delete(f"/v1/admin/invites/{code}", headers=admin.auth), 409)

    other = (await client.post("/v1/admin/invites", headers=admin.auth, json={})).json()["code"]
    assert (await client.delete(f"/v1/admin/invites/{other}", headers=admin.auth)).status_code == 204
    assert_problem(await client.post("/v1/auth/register", json=_register("late", invite_code=other)), 403)
    assert_problem(await client.delete("/v1/admin/invites/NOSUCHCODE", headers=admin.auth), 404)

    listed = {i["code"]: i for i in (await client.get("/v1/admin/invites", headers=admin.auth)).json()["items"]}
    assert listed[code]["state"] == "used" and listed[code]["used_by_handle"] == "sam"
    assert listed[code]["note"] == "for Sam" and listed[other]["state"] == "revoked"
    actions = [e["action"] for e in (await client.get("/v1/admin/audit", headers=admin.auth)).json()["items"]]
    assert actions == ["invite_revoked", "invite_created", "invite_created", "set"]


async def test_invite_codes_are_listed_newest_first_a_page_at_a_time(client, services) -> None:
    admin, _, _ = await _people(client, services)
    made = [(await client.post("/v1/admin/invites", headers=admin.auth, json={"note": f"n{n}"})).json()["code"]
            for n in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        answer = await client.get("/v1/admin/invites", headers=admin.auth,
                                  params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        seen += [i["code"] for i in answer.json()["items"]]
        cursor = answer.json()["next_cursor"]
        if not seen[2:]:  # a code made while the admin pages shows on top, not as a repeat further down
            await client.post("/v1/admin/invites", headers=admin.auth, json={})
    assert seen == made[::-1] and cursor is None
    assert_problem(await client.get("/v1/admin/invites", headers=admin.auth, params={"cursor": "bm9wZQ"}), 400)
    assert_problem(await client.get("/v1/admin/invites", headers=admin.auth, params={"limit": 0}), 422)


async def test_a_sign_up_that_fails_keeps_its_invite_code_unused(client, services) -> None:
    admin, _, _ = await _people(client, services)
    await client.put("/v1/admin/settings/registration_mode", headers=admin.auth, json={"value": "invite"})
    code = (await client.post("/v1/admin/invites", headers=admin.auth, json={})).json()["code"]
    taken = await client.post("/v1/auth/register", json=_register("pat", invite_code=code))  # handle taken
    assert_problem(taken, 409)
    assert (await client.post("/v1/auth/register", json=_register("newcomer", invite_code=code))).status_code == 201


CLAIM_AND_DIE = """
import asyncio, os, sys
from clipfeed.infra.db import Database
from clipfeed.instance import invites

async def main():
    db = Database(sys.argv[1])
    async with db.session() as session:
        await invites.claim(session, code=sys.argv[2], user_id=42)
        print("claimed", flush=True)
        os._exit(9)  # the process dies after spending the code, before the commit

asyncio.run(main())
"""


async def test_a_process_killed_between_spending_a_code_and_committing_leaves_it_unused(client, services) -> None:
    admin, _, _ = await _people(client, services)
    await client.put("/v1/admin/settings/registration_mode", headers=admin.auth, json={"value": "invite"})
    code = (await client.post("/v1/admin/invites", headers=admin.auth, json={})).json()["code"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    died = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", CLAIM_AND_DIE,
                                                    services.settings.resolve(services.settings.database_url), code],
                                   capture_output=True, text=True, env=env, timeout=60)
    assert died.returncode == 9 and "claimed" in died.stdout, died.stderr
    listed = (await client.get("/v1/admin/invites", headers=admin.auth)).json()["items"]
    assert [i["state"] for i in listed] == ["unused"]
    assert (await client.post("/v1/auth/register", json=_register("kept", invite_code=code))).status_code == 201


async def test_the_upload_limits_follow_the_override(client, services) -> None:
    admin, _, user = await _people(client, services)
    two_mib = 2 * 1024 * 1024
    await client.put("/v1/admin/settings/upload_max_bytes", headers=admin.auth, json={"value": two_mib})
    await client.put("/v1/admin/settings/upload_max_duration_s", headers=admin.auth, json={"value": 3})
    limits = (await client.get("/v1/upload-limits")).json()
    assert (limits["max_bytes"], limits["max_duration_s"]) == (two_mib, 3.0)
    assert (await client.options("/v1/uploads/", headers=TUS)).headers["Tus-Max-Size"] == str(two_mib)
    assert "2097152 bytes" in assert_problem(await create(client, user.auth, two_mib + 1), 413)["detail"]
    assert (await create(client, user.auth, two_mib)).status_code == 201

    _, last = await send_all(client, user.auth, SAMPLE.read_bytes())  # 5.3 s long
    assert "the maximum is 3 s" in assert_problem(last, 422)["detail"]
    await client.delete("/v1/admin/settings/upload_max_duration_s", headers=admin.auth)
    assert (await client.get("/v1/upload-limits")).json()["max_duration_s"] == services.settings.upload_max_duration_s


async def test_screening_applies_the_overridden_policy(client, services) -> None:
    admin, _, _ = await _people(client, services)
    assert screening.policy(await instance.effective(services=services))["nsfw"] == (0.45, 0.85)
    await client.put("/v1/admin/settings/screening_policy", headers=admin.auth,
                     json={"value": {"nsfw": [0.1, 0.2], "duplicate": [0.5, 2]}})
    table = screening.policy(await instance.effective(services=services))
    assert table["nsfw"] == (0.1, 0.2) and table["duplicate"] == (0.5, 2.0) and table["text"] == (0.5, 1.0)
    assert screening.decide({"nsfw": 0.3}, table) == ("reject", ["nsfw"])


async def test_a_change_reaches_another_process_on_the_same_database(client, services) -> None:
    admin, _, _ = await _people(client, services)
    other = await bootstrap(services.settings, relay=False)  # a second process's wiring
    try:
        assert (await instance.effective(services=other)).instance_name == "Clipfeed"
        await client.put("/v1/admin/settings/instance_name", headers=admin.auth, json={"value": "Elsewhere"})

        async def seen() -> bool:
            return (await instance.effective(services=other)).instance_name == "Elsewhere"

        await wait_for(seen, timeout=5 + instance.REFRESH_S)
    finally:
        await other.close()


async def test_admins_see_the_storage_bill_and_the_service_health(client, services) -> None:
    admin, _, _ = await _people(client, services)
    bill = await client.get("/v1/admin/storage", headers=admin.auth)
    assert bill.status_code == 200, bill.text
    assert [t["name"] for t in bill.json()["tiers"]] == ["hot", "warm", "cold"]
    assert bill.json()["currency"] == "USD" and bill.json()["monthly"] >= 0

    health = (await client.get("/v1/admin/health", headers=admin.auth)).json()
    assert health["ready"] and {c["name"] for c in health["checks"]} == {"database", "blobs", "cache", "event_log"}
    roles = {r["name"]: r for r in health["roles"]}
    assert set(roles) == {"media", "stream", "batch", "lifecycle", "federation"}
    media = next(c for c in roles["media"]["consumers"] if c["group"] == "media")
    assert media["topic"] == "media.uploaded" and media["pending"] >= 0
