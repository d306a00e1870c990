"""Taking dismissals back and listing them: Undo of "not interested", the viewer's hidden
creators and not-interested clips page by page, each with when it ends, for that viewer only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipUpdate
from clipfeed.events.service import envelope_id
from clipfeed.recs import viewers
from clipfeed.recs.feedback import event_key
from clipfeed.recs.models import Dismissal
from clipfeed.recs.profile import ukey
from clipfeed.social import blocks
from tests.helpers import assert_problem, signup
from tests.recs.conftest import seed_catalogue
from tests.recs.test_dismissals import TAGS, _all_pages, _page


def _thirty_days_on(text: str) -> bool:
    return timedelta(days=29.9) < datetime.fromisoformat(text) - datetime.now(UTC) <= timedelta(days=30)


async def test_not_interested_taken_back_comes_back_to_for_you_and_leaves_the_list(client, services) -> None:
    clips = await seed_catalogue(creators=6, clips_per_creator=10, tags=TAGS, services=services)
    viewer = await signup(client, "undoer")
    first = await _page(client, viewer)
    shown = {int(item["clip"]["id"]) for item in first["items"]}
    target = next(c for c in clips.values() if c.id not in shown)
    marked = await client.put(f"/v1/clips/{target.id}/not-interested", headers=viewer.auth)
    assert marked.status_code == 200, marked.text
    listed = await client.get("/v1/me/not-interested", headers=viewer.auth)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["clip"]["id"] == str(target.id) and item["until"] == marked.json()["until"]
    live = ukey(f"u:{viewer.id}", "negative")
    assert await services.cache.zscore(live, str(target.id)) is not None  # the session turned against it
    for _ in range(2):  # idempotent
        undone = await client.delete(f"/v1/clips/{target.id}/not-interested", headers=viewer.auth)
        assert undone.status_code == 200, undone.text
        assert undone.json() == {"clip_id": str(target.id), "not_interested": False, "until": None}
    assert (await client.get("/v1/me/not-interested", headers=viewer.auth)).json() == {"items": [],
                                                                                        "next_cursor": None}
    assert await services.cache.zscore(live, str(target.id)) is None
    # The stream worker's fold, if it comes after the Undo, skips the event instead of writing it back.
    day = int(datetime.fromisoformat(marked.json()["until"]).timestamp() - 30 * 86400) // 86400
    claim = event_key(envelope_id(f"u:{viewer.id}", f"not-interested-{target.id}-{day}"))
    assert not await services.cache.add(claim, b"1")
    assert target.id in {int(c["id"]) for c in await _all_pages(client, viewer, first)}


async def test_hidden_creators_are_listed_newest_first_page_by_page_for_their_viewer_only(client, services) -> None:
    clips = await seed_catalogue(creators=3, clips_per_creator=1, tags=TAGS, services=services)
    creators = [c.owner_id for c in clips.values()]
    viewer, other = await signup(client, "lister"), await signup(client, "nosy")
    for creator in creators:
        answer = await client.put(f"/v1/users/{creator}/hide", headers=viewer.auth)
        assert answer.status_code == 200, answer.text
    first = await client.get("/v1/me/hidden-creators", params={"limit": 2}, headers=viewer.auth)
    assert first.status_code == 200, first.text
    second = await client.get("/v1/me/hidden-creators", params={"limit": 2, "cursor": first.json()["next_cursor"]},
                              headers=viewer.auth)
    assert second.status_code == 200, second.text
    assert second.json()["next_cursor"] is None
    items = first.json()["items"] + second.json()["items"]
    assert [i["user"]["id"] for i in items] == [str(c) for c in reversed(creators)]
    assert all(_thirty_days_on(i["until"]) and i["since"] < i["until"] for i in items)
    # Another viewer's list is their own: empty here, and no parameter reaches someone else's.
    assert (await client.get("/v1/me/hidden-creators", headers=other.auth)).json()["items"] == []
    assert_problem(await client.get("/v1/me/hidden-creators", params={"cursor": "bm90LWpzb24"}, headers=viewer.auth),
                   400)
    shown_again = await client.delete(f"/v1/users/{creators[1]}/hide", headers=viewer.auth)
    assert shown_again.status_code == 200, shown_again.text
    left = (await client.get("/v1/me/hidden-creators", headers=viewer.auth)).json()["items"]
    assert [i["user"]["id"] for i in left] == [str(creators[2]), str(creators[0])]


async def test_undo_and_the_lists_need_a_signed_in_viewer(client, services) -> None:
    clips = await seed_catalogue(creators=1, clips_per_creator=1, tags=TAGS, services=services)
    clip = next(iter(clips.values()))
    anonymous = {"X-Device-ID": "device-12345678"}
    assert_problem(await client.delete(f"/v1/clips/{clip.id}/not-interested", headers=anonymous), 401)
    assert_problem(await client.get("/v1/me/hidden-creators", headers=anonymous), 401)
    assert_problem(await client.get("/v1/me/not-interested"), 401)


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_the_lists_leave_out_blocked_creators_and_clips_gone_private(client, services) -> None:
    clips = await seed_catalogue(creators=3, clips_per_creator=1, tags=TAGS, services=services)
    blocking, private, kept = clips.values()
    viewer = await signup(client, "blocked")
    for clip in (blocking, private, kept):
        assert (await client.put(f"/v1/users/{clip.owner_id}/hide", headers=viewer.auth)).status_code == 200
        assert (await client.put(f"/v1/clips/{clip.id}/not-interested", headers=viewer.auth)).status_code == 200
    users = await accounts.get_many(db=services.db, user_ids=[viewer.id, blocking.owner_id])
    await blocks.block(services=services, blocker=users[blocking.owner_id], blocked=users[viewer.id])
    await clips_service.update(db=services.db, outbox=services.outbox, clip_id=private.id,
                               user_id=private.owner_id, request=ClipUpdate(visibility="private"))
    hidden = (await client.get("/v1/me/hidden-creators", headers=viewer.auth)).json()["items"]
    assert {i["user"]["id"] for i in hidden} == {str(private.owner_id), str(kept.owner_id)}
    not_interested = (await client.get("/v1/me/not-interested", headers=viewer.auth)).json()["items"]
    assert [i["clip"]["id"] for i in not_interested] == [str(kept.id)]
    # Undo follows the rules of marking: a clip the viewer cannot see is not found, whoever hid it.
    assert_problem(await client.delete(f"/v1/clips/{blocking.id}/not-interested", headers=viewer.auth), 404)
    assert_problem(await client.delete(f"/v1/clips/{private.id}/not-interested", headers=viewer.auth), 404)
    assert_problem(await client.delete("/v1/clips/999999999/not-interested", headers=viewer.auth), 404)


async def test_the_feed_reads_each_kinds_newest_dismissals_and_no_expired_ones(services, monkeypatch) -> None:
    # Read in one statement for both kinds: a viewer's many "not interested" clips must not
    # crowd the creators they hid out of the newest rows read, nor the other way round.
    monkeypatch.setattr(viewers, "DISMISSALS_READ", 3)
    user_id, now = 42, datetime.now(UTC)
    later = now + timedelta(days=30)
    rows = ([Dismissal(user_id=user_id, kind="clip", subject_id=100 + n, created_at=now - timedelta(minutes=n),
                       expires_at=later) for n in range(6)]
            + [Dismissal(user_id=user_id, kind="creator", subject_id=200 + n, created_at=now - timedelta(hours=1 + n),
                         expires_at=later) for n in range(2)]
            + [Dismissal(user_id=user_id, kind="creator", subject_id=299, created_at=now,
                         expires_at=now - timedelta(seconds=1)),
               Dismissal(user_id=7, kind="clip", subject_id=999, created_at=now, expires_at=later)])
    async with services.db.shard_session(user_id) as session, session.begin():
        session.add_all(rows[:-1])
    async with services.db.shard_session(7) as session, session.begin():
        session.add(rows[-1])
    clips, creators = await viewers.dismissals_of(user_id, services=services)
    assert clips == {100, 101, 102} and creators == {200, 201}
