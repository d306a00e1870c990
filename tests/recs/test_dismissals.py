"""Explicit negative feedback on For You: "not interested" in a clip and hiding a creator, kept
for 30 days for signed-in viewers, honoured by every page (buffered and re-ranked ones too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipCreate, ClipStatus, ClipUpdate
from clipfeed.recs.models import Dismissal
from clipfeed.recs.viewers import links_key
from clipfeed.social import blocks
from tests.helpers import assert_problem, signup
from tests.recs.conftest import seed_catalogue

TAGS = ["cats", "dogs", "food", "skate", "music"]


async def _page(client, account, cursor=None):
    response = await client.get("/v1/feed", params={"limit": 10, **({"cursor": cursor} if cursor else {})},
                                headers=account.auth)
    assert response.status_code == 200, response.text
    return response.json()


async def _all_pages(client, account, first):
    """Every clip served after ``first``, page by page, until the catalogue runs out."""
    served: list[dict] = []
    cursor = first["next_cursor"]
    for _ in range(20):
        if not cursor:
            break
        page = await _page(client, account, cursor)
        served += [item["clip"] for item in page["items"]]
        cursor = page["next_cursor"]
    return served


async def test_dismissals_need_a_signed_in_viewer(client, services) -> None:
    clips = await seed_catalogue(creators=2, clips_per_creator=2, tags=TAGS, services=services)
    clip = next(iter(clips.values()))
    anonymous = {"X-Device-ID": "device-12345678"}
    assert_problem(await client.put(f"/v1/clips/{clip.id}/not-interested", headers=anonymous), 401)
    assert_problem(await client.put(f"/v1/users/{clip.owner_id}/hide", headers=anonymous), 401)
    assert_problem(await client.delete(f"/v1/users/{clip.owner_id}/hide"), 401)


async def test_a_clip_marked_not_interested_never_reaches_for_you(client, services) -> None:
    # A catalogue small enough to page through: every other clip comes, that one never does.
    clips = await seed_catalogue(creators=6, clips_per_creator=10, tags=TAGS, services=services)
    viewer = await signup(client, "picky")
    first = await _page(client, viewer)
    shown = {int(item["clip"]["id"]) for item in first["items"]}
    target = next(c for c in clips.values() if c.id not in shown)
    answer = await client.put(f"/v1/clips/{target.id}/not-interested", headers=viewer.auth)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["clip_id"] == str(target.id) and body["not_interested"] is True
    until = datetime.fromisoformat(body["until"])
    assert timedelta(days=29.9) < until - datetime.now(UTC) <= timedelta(days=30)
    again = await client.put(f"/v1/clips/{target.id}/not-interested", headers=viewer.auth)
    assert again.status_code == 200 and datetime.fromisoformat(again.json()["until"]) >= until
    served = {int(c["id"]) for c in await _all_pages(client, viewer, first)}
    assert target.id not in served
    # Everything else of the catalogue that the viewer did not turn against came.
    assert len(served | shown) >= 45, len(served | shown)


async def test_not_interested_turns_the_next_page_away_from_the_clips_hashtag(client, services) -> None:
    # Three hashtags and four pairs: a twin's page holds about three clips of the tag by chance,
    # so the twins' pages hold about thirteen between them (with five tags and three pairs,
    # about six, and two or fewer happened now and then).
    await seed_catalogue(creators=30, clips_per_creator=10, tags=TAGS[:3], services=services)
    acted = alone = 0
    pairs = 4
    for n in range(pairs):
        seconds = []
        tag = ""
        for who, acts in (("ni", True), ("twin", False)):
            account = await signup(client, f"{who}{n}")
            first = await _page(client, account)
            tag = tag or first["items"][0]["clip"]["hashtags"][0]
            if acts:
                for item in first["items"]:
                    if tag in item["clip"]["hashtags"]:
                        answer = await client.put(f"/v1/clips/{item['clip']['id']}/not-interested",
                                                  headers=account.auth)
                        assert answer.status_code == 200, answer.text
            seconds.append(await _page(client, account, first["next_cursor"]))
        assert seconds[0]["served_by"] == "reranked"
        acted += sum(1 for i in seconds[0]["items"] if tag in i["clip"]["hashtags"])
        alone += sum(1 for i in seconds[1]["items"] if tag in i["clip"]["hashtags"])
    assert acted + pairs <= alone, (acted, alone)


async def test_a_hidden_creator_leaves_for_you_until_shown_again_for_that_viewer_only(client, services) -> None:
    clips = await seed_catalogue(creators=6, clips_per_creator=30, tags=TAGS, services=services)
    viewer, other = await signup(client, "hider"), await signup(client, "other")
    first = await _page(client, viewer)  # its buffer holds the creator's next clips
    creator = int(first["items"][0]["clip"]["owner_id"])
    hidden = await client.put(f"/v1/users/{creator}/hide", headers=viewer.auth)
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["hidden"] is True and hidden.json()["user_id"] == str(creator)
    cursor, owners = first["next_cursor"], []
    for _ in range(5):
        page = await _page(client, viewer, cursor)
        cursor = page["next_cursor"]
        owners += [int(item["clip"]["owner_id"]) for item in page["items"]]
    assert len(owners) == 50 and creator not in owners
    # Another viewer still gets them: the hide is the hider's alone.
    other_owners = []
    cursor = None
    for _ in range(3):
        page = await _page(client, other, cursor)
        cursor = page["next_cursor"]
        other_owners += [int(item["clip"]["owner_id"]) for item in page["items"]]
    assert creator in other_owners
    shown_again = await client.delete(f"/v1/users/{creator}/hide", headers=viewer.auth)
    assert shown_again.status_code == 200 and shown_again.json() == {"user_id": str(creator), "hidden": False,
                                                                     "until": None}
    owners = []
    for _ in range(3):
        page = await _page(client, viewer, cursor)
        cursor = page["next_cursor"]
        owners += [int(item["clip"]["owner_id"]) for item in page["items"]]
    assert creator in owners
    assert sum(1 for c in clips.values() if c.owner_id == creator) == 30


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_dismissals_refuse_yourself_unknown_users_and_clips_you_cannot_see(client, services) -> None:
    clips = await seed_catalogue(creators=3, clips_per_creator=2, tags=TAGS, services=services)
    viewer = await signup(client, "refused")
    assert_problem(await client.put(f"/v1/users/{viewer.id}/hide", headers=viewer.auth), 400)
    assert_problem(await client.put("/v1/users/999999999/hide", headers=viewer.auth), 404)
    assert_problem(await client.put("/v1/clips/999999999/not-interested", headers=viewer.auth), 404)
    assert_problem(await client.put("/v1/clips/not-an-id/not-interested", headers=viewer.auth), 422)
    private, blocking = list(clips.values())[:2]
    await clips_service.update(db=services.db, outbox=services.outbox, clip_id=private.id,
                               user_id=private.owner_id, request=ClipUpdate(visibility="private"))
    assert_problem(await client.put(f"/v1/clips/{private.id}/not-interested", headers=viewer.auth), 404)
    users = await accounts.get_many(db=services.db, user_ids=[viewer.id, blocking.owner_id])
    await blocks.block(services=services, blocker=users[blocking.owner_id], blocked=users[viewer.id])
    assert_problem(await client.put(f"/v1/clips/{blocking.id}/not-interested", headers=viewer.auth), 404)
    own = await clips_service.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                           owner_id=viewer.id, request=ClipCreate(caption="mine #cats"))
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=own.id, status=ClipStatus.ready,
                                   technical={"duration_ms": 12_000})
    assert_problem(await client.put(f"/v1/clips/{own.id}/not-interested", headers=viewer.auth), 400)


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_a_dismissal_outlives_the_session_profile_and_ends_after_its_days(client, services) -> None:
    clips = await seed_catalogue(creators=6, clips_per_creator=10, tags=TAGS, services=services)
    kept, lapsed = await signup(client, "kept"), await signup(client, "lapsed")
    targets = {}
    firsts = {}
    for account in (kept, lapsed):
        firsts[account.id] = first = await _page(client, account)
        shown = {int(item["clip"]["id"]) for item in first["items"]}
        targets[account.id] = next(c.id for c in clips.values() if c.id not in shown)
        answer = await client.put(f"/v1/clips/{targets[account.id]}/not-interested", headers=account.auth)
        assert answer.status_code == 200, answer.text
        # The cache loses the session profile (it holds the clip too): the stored dismissal remains.
        await services.cache.delete(*(f"recs:u:u:{account.id}:{part}" for part in ("hidden", "negative")),
                                    links_key(f"u:{account.id}"))
    async with services.db.shard_session(lapsed.id) as session:  # 30 days later, for one of them
        await session.execute(sa.update(Dismissal).where(Dismissal.user_id == lapsed.id)
                              .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    await services.cache.delete(links_key(f"u:{lapsed.id}"))  # as the links' 5 minutes would
    assert targets[kept.id] not in {int(c["id"]) for c in await _all_pages(client, kept, firsts[kept.id])}
    assert targets[lapsed.id] in {int(c["id"]) for c in await _all_pages(client, lapsed, firsts[lapsed.id])}
