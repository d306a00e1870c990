"""``GET /v1/creators/me/clips``: the studio's list of one's own clips, in every state."""

from __future__ import annotations

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from tests.helpers import assert_problem, signup


async def test_a_creator_lists_their_own_clips_in_every_state_with_reasons_and_flags(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    made = [(await client.post("/v1/clips", headers=alice.auth, json={"caption": f"clip {n}"})).json()["id"]
            for n in range(3)]
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=int(made[0]),
                                   status=ClipStatus.ready, media={"quality": {"flags": ["frozen", "silent"]}})
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=int(made[1]),
                                   status=ClipStatus.rejected, reason="removed after review: spam")
    await client.put(f"/v1/clips/{made[2]}/comment-settings", headers=alice.auth, json={"comments": "off"})
    page = (await client.get("/v1/creators/me/clips", headers=alice.auth)).json()
    by_id = {item["id"]: item for item in page["items"]}
    assert list(by_id) == list(reversed(made))  # newest first
    assert by_id[made[0]]["status"] == "ready" and by_id[made[0]]["quality_flags"] == ["frozen", "silent"]
    assert by_id[made[1]]["status"] == "rejected"
    assert by_id[made[1]]["status_reason"] == "removed after review: spam"
    assert by_id[made[2]]["status"] == "uploading" and by_id[made[2]]["comments_setting"] == "off"
    assert by_id[made[0]]["stats"] == {"views": 0, "likes": 0, "comments": 0, "shares": 0, "avg_watch_ms": 0.0}
    assert (await client.get("/v1/creators/me/clips", headers=bob.auth)).json()["items"] == []
    assert_problem(await client.get("/v1/creators/me/clips"), 401)
    assert_problem(await client.get("/v1/creators/me/clips", headers=alice.auth, params={"limit": 0}), 422)


async def test_the_list_pages_by_cursor(client, services) -> None:
    alice = await signup(client, "alice")
    for n in range(3):
        await client.post("/v1/clips", headers=alice.auth, json={"caption": f"clip {n}"})
    first = (await client.get("/v1/creators/me/clips", headers=alice.auth, params={"limit": 2})).json()
    rest = (await client.get("/v1/creators/me/clips", headers=alice.auth,
                             params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
