"""Clip CRUD with visibility and ownership rules, on both stacks."""

from __future__ import annotations

import base64

import httpx

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from tests.helpers import assert_problem, signup


async def _ready(clip_id: str, *, services) -> None:
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=int(clip_id),
                                   status=ClipStatus.ready, media={"hls": f"clips/{clip_id}/hls/master.m3u8"})


async def test_creator_makes_a_draft_and_only_they_see_it_until_ready(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    made = await client.post("/v1/clips", headers=alice.auth, json={
        "caption": "Sunset over the #Sea with #cats", "hashtags": ["#travel", "cats"]})
    assert made.status_code == 201
    clip = made.json()
    assert clip["status"] == "uploading" and clip["hashtags"] == ["sea", "cats", "travel"]
    assert (await client.get(f"/v1/clips/{clip['id']}", headers=alice.auth)).status_code == 200
    assert_problem(await client.get(f"/v1/clips/{clip['id']}", headers=bob.auth), 404)
    await _ready(clip["id"], services=services)
    seen = (await client.get(f"/v1/clips/{clip['id']}", headers=bob.auth)).json()
    assert seen["status"] == "ready" and seen["owner_handle"] == "alice"
    assert seen["media"]["hls"].endswith("/master.m3u8")


async def test_private_clips_are_invisible_to_others_and_unlisted_ones_are_not_listed(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    ids = {}
    for visibility in ("public", "unlisted", "private"):
        ids[visibility] = (await client.post("/v1/clips", headers=alice.auth, json={
            "caption": visibility, "visibility": visibility})).json()["id"]
        await _ready(ids[visibility], services=services)
    assert (await client.get(f"/v1/clips/{ids['unlisted']}")).status_code == 200
    assert_problem(await client.get(f"/v1/clips/{ids['private']}", headers=bob.auth), 404)
    listed = (await client.get("/v1/users/alice/clips", headers=bob.auth)).json()
    assert [c["id"] for c in listed["items"]] == [ids["public"]]
    own = (await client.get("/v1/users/alice/clips", headers=alice.auth)).json()
    assert {c["id"] for c in own["items"]} == set(ids.values())


async def test_only_the_creator_edits_or_deletes(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clip = (await client.post("/v1/clips", headers=alice.auth, json={"caption": "mine #a"})).json()
    await _ready(clip["id"], services=services)
    assert_problem(await client.patch(f"/v1/clips/{clip['id']}", headers=bob.auth, json={"caption": "x"}), 403)
    assert_problem(await client.delete(f"/v1/clips/{clip['id']}", headers=bob.auth), 403)
    assert_problem(await client.patch(f"/v1/clips/{clip['id']}", json={"caption": "x"}), 401)
    edited = await client.patch(f"/v1/clips/{clip['id']}", headers=alice.auth,
                                json={"caption": "new words #b", "visibility": "unlisted"})
    assert edited.status_code == 200
    assert edited.json()["hashtags"] == ["b"] and edited.json()["visibility"] == "unlisted"
    await services.blobs.put(f"clips/{clip['id']}/hls/master.m3u8", b"#EXTM3U\n")
    assert (await client.delete(f"/v1/clips/{clip['id']}", headers=alice.auth)).status_code == 204
    assert_problem(await client.get(f"/v1/clips/{clip['id']}", headers=alice.auth), 404)
    assert not await services.blobs.exists(f"clips/{clip['id']}/hls/master.m3u8")
    assert_problem(await client.delete(f"/v1/clips/{clip['id']}", headers=alice.auth), 404)


async def test_explicit_hashtags_survive_a_caption_edit(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    clip = (await client.post("/v1/clips", headers=alice.auth,
                              json={"caption": "old #one", "hashtags": ["kept"]})).json()
    edited = await client.patch(f"/v1/clips/{clip['id']}", headers=alice.auth, json={"caption": "new #two"})
    assert edited.json()["hashtags"] == ["two", "kept"]


async def test_bad_clip_input_and_unknown_ids(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    assert_problem(await client.post("/v1/clips", headers=alice.auth, json={"caption": "x" * 2201}), 422)
    assert_problem(await client.post("/v1/clips", headers=alice.auth,
                                     json={"caption": "ok", "hashtags": ["no spaces allowed"]}), 422)
    assert_problem(await client.post("/v1/clips", headers=alice.auth, json={"visibility": "friends"}), 422)
    assert_problem(await client.get("/v1/clips/999999999"), 404)
    assert_problem(await client.get("/v1/clips/not-a-number"), 422)
    assert_problem(await client.get("/v1/clips/99999999999999999999999"), 422)
    assert_problem(await client.get("/v1/users/alice/clips?cursor=%%%garbage"), 400)
    tampered = base64.urlsafe_b64encode(b'{"before": "not a number"}').decode()  # decodes, but is not ours
    assert_problem(await client.get(f"/v1/users/alice/clips?cursor={tampered}"), 400)
    assert_problem(await client.get("/v1/users/alice/clips?limit=1000"), 422)
    assert_problem(await client.get("/v1/no-such-route"), 404)


async def test_profile_clips_paginate_without_gaps_or_repeats(client, services) -> None:
    alice = await signup(client, "alice")
    made = []
    for n in range(23):
        clip = (await client.post("/v1/clips", headers=alice.auth, json={"caption": f"clip {n}"})).json()
        await _ready(clip["id"], services=services)
        made.append(clip["id"])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/users/alice/clips", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(made))


async def test_blocking_hides_clips_and_profiles_both_ways(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clip = (await client.post("/v1/clips", headers=alice.auth, json={"caption": "hello"})).json()
    await _ready(clip["id"], services=services)
    assert (await client.get(f"/v1/clips/{clip['id']}", headers=bob.auth)).status_code == 200
    blocked = await client.put(f"/v1/users/{bob.id}/block", headers=alice.auth)
    assert blocked.status_code in (200, 201, 204), blocked.text
    assert_problem(await client.get(f"/v1/clips/{clip['id']}", headers=bob.auth), 404)
    assert_problem(await client.get("/v1/users/alice/clips", headers=bob.auth), 404)
    assert_problem(await client.get("/v1/users/bob/clips", headers=alice.auth), 404)
    # Someone else still sees the clip.
    carol = await signup(client, "carol")
    assert (await client.get(f"/v1/clips/{clip['id']}", headers=carol.auth)).status_code == 200
