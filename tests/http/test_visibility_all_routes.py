"""One visibility rule for every read: a user blocked either way gets nothing of the other's
clips from any route of the API.

The walk covers every operation of the app's own OpenAPI document, so a route added later is
walked too: its path parameters are filled with the hidden clip's, comments' and creator's IDs
and it is called as the blocked viewer. Each answer must be a refusal (4xx, never 5xx) or a
success that carries none of the hidden clip's ID, caption or comments.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from clipfeed.api import create_app
from clipfeed.stream.catchup import wait_for_catch_up
from tests.helpers import Account, assert_problem, signup
from tests.stream.pipeline import event, make_clip, running_role, send

CAPTION = "hiddencaptionxyz #alicetag"
# Carol's own account, her session and the block itself are not the subject (and ending the
# session or lifting the block mid-walk would void the rest); the SSE stream never ends; the
# health probes carry no content (and answer 503 when an engine is slow, which is their job).
SKIPPED = {("GET", "/healthz"), ("GET", "/readyz"),
           ("DELETE", "/v1/me"), ("POST", "/v1/auth/logout"), ("PUT", "/v1/users/{user_ref}/block"),
           ("DELETE", "/v1/users/{user_ref}/block"), ("GET", "/v1/notifications/stream"),
           ("PUT", "/v1/me/avatar")}


def _bodies(clip_id: str, comment_id: str) -> dict[tuple[str, str], Any]:
    return {
        ("POST", "/v1/reports"): {"kind": "clip", "id": clip_id, "category": "spam"},
        ("POST", "/v1/clips/{clip_id}/comments"): {"body": "hello there", "parent_id": comment_id},
        ("PATCH", "/v1/clips/{clip_id}/comments/{comment_id}"): {"body": "edited"},
        ("POST", "/v1/clips/{clip_id}/shares"): {"channel": "link"},
        ("PATCH", "/v1/clips/{clip_id}"): {"caption": "taken over"},
        ("PUT", "/v1/clips/{clip_id}/comment-settings"): {"comments": "everyone"},
        ("POST", "/v1/admin/purge"): {"clip_ids": [clip_id]},
        ("POST", "/v1/events"): {"events": [event("play_start", clip_id, time.time())]},
    }


async def _scene(client, services, *, carol_blocks: bool) -> dict[str, Any]:
    alice, carol, dave = (await signup(client, "alice"), await signup(client, "carol"), await signup(client, "dave"))
    clip_id = str(await make_clip(client, services, alice, CAPTION))
    comments = []
    for author, body in ((dave, "davesaysxyz"), (alice, "alicesaysxyz"), (carol, "carolsaysxyz")):
        made = await client.post(f"/v1/clips/{clip_id}/comments", headers=author.auth, json={"body": body})
        assert made.status_code == 201, made.text
        comments.append(made.json()["id"])
    for verb in ("like", "bookmark"):
        assert (await client.put(f"/v1/clips/{clip_id}/{verb}", headers=carol.auth)).status_code == 200
    assert (await client.put("/v1/users/alice/follow", headers=carol.auth)).status_code == 200
    async with running_role(services=services):
        await send(client, [event("play_start", clip_id, time.time()), event("share", clip_id, time.time())],
                   dave.auth)
        await wait_for_catch_up(services=services, timeout=60)
    # Before the block Carol sees the clip everywhere: the walk below is not vacuous.
    assert (await client.get(f"/v1/clips/{clip_id}", headers=carol.auth)).status_code == 200
    assert (await client.get(f"/v1/clips/{clip_id}/playback", headers=carol.auth)).status_code == 200
    listed = (await client.get("/v1/trending", headers=carol.auth)).json()["items"]
    assert clip_id in [item["clip"]["id"] for item in listed]
    blocker, blocked = (carol, alice) if carol_blocks else (alice, carol)
    assert (await client.put(f"/v1/users/{blocked.handle}/block", headers=blocker.auth)).status_code == 200
    return {"alice": alice, "carol": carol, "clip_id": clip_id, "comments": comments}


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)


@pytest.mark.parametrize("carol_blocks", [False, True], ids=["alice_blocks_carol", "carol_blocks_alice"])
async def test_no_route_shows_a_blocked_creators_clip(client, services, carol_blocks: bool) -> None:
    scene = await _scene(client, services, carol_blocks=carol_blocks)
    carol: Account = scene["carol"]
    clip_id, comments = scene["clip_id"], scene["comments"]
    secrets = [clip_id, "hiddencaptionxyz", "davesaysxyz", "alicesaysxyz", *comments[:2]]
    params = {"clip_id": clip_id, "comment_id": comments[0], "handle": "alice", "user_ref": "alice"}
    query = {"/v1/engagement": {"clip_ids": clip_id}, "/v1/feed": {"tab": "foryou"}}
    bodies = _bodies(clip_id, comments[0])
    walked, answered = 0, 0
    operations = create_app(services=services).openapi()["paths"]
    # Reads first, then writes: a write that wrongly succeeded must not hide a read's leak.
    ordered = sorted(((m.upper(), p) for p, ops in operations.items() for m in ops),
                     key=lambda mp: (mp[0] not in ("GET", "HEAD"), mp[1], mp[0]))
    for method, path in ordered:
        if (method, path) in SKIPPED:
            continue
        for ref in (("alice", str(scene["alice"].id)) if "{user_ref}" in path else ("alice",)):
            url = _fill(path, {**params, "user_ref": ref})
            answer = await client.request(method, url, headers=carol.auth, params=query.get(path),
                                          json=bodies.get((method, path)) if method not in ("GET", "HEAD") else None)
            walked += 1
            # 503 is an engine that did not answer in time (a loaded machine), said as such.
            assert answer.status_code < 500 or answer.status_code == 503, (method, url, answer.text)
            if answer.is_success:
                answered += 1
                leaked = [s for s in secrets if s in answer.text]
                assert not leaked, (method, url, leaked, answer.text[:500])
    assert walked >= 70
    assert answered >= 20, answered  # Carol stayed signed in: her own reads answered


@pytest.mark.parametrize("carol_blocks", [False, True], ids=["alice_blocks_carol", "carol_blocks_alice"])
async def test_the_issues_reproductions(client, services, carol_blocks: bool) -> None:
    scene = await _scene(client, services, carol_blocks=carol_blocks)
    carol, clip_id = scene["carol"], scene["clip_id"]
    assert_problem(await client.get(f"/v1/clips/{clip_id}", headers=carol.auth), 404)
    assert_problem(await client.get(f"/v1/clips/{clip_id}/playback", headers=carol.auth), 404)
    listed = (await client.get("/v1/trending", headers=carol.auth)).json()["items"]
    assert clip_id not in [item["clip"]["id"] for item in listed]
    for subject in ({"kind": "clip", "id": clip_id}, {"kind": "comment", "id": scene["comments"][1]}):
        reported = await client.post("/v1/reports", headers=carol.auth, json={**subject, "category": "spam"})
        assert_problem(reported, 404)
    # Anyone else still sees it.
    assert (await client.get(f"/v1/clips/{clip_id}/playback")).status_code == 200
