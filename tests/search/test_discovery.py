"""Hashtag pages and follows, Discover on a fresh instance, similar clips, mute filters."""

from __future__ import annotations

from clipfeed.search.semantic import embed_clips
from tests.helpers import assert_problem, signup
from tests.search.support import add_clip, add_creator, clip_ids


async def test_hashtag_page_shows_counts_clips_related_tags_and_follow_state(client, services) -> None:
    viewer = await signup(client, "tag_fan")
    creator = await add_creator("hiker_hana", services=services)
    old = await add_clip(creator, "ridge walk #hiking #mountains", services=services)
    new = await add_clip(creator, "summit at dawn #hiking #sunrise #mountains", services=services)
    await add_clip(creator, "private summit #hiking", visibility="private", services=services)

    page = await client.get("/v1/hashtags/%23Hiking", headers=viewer.auth)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["tag"] == "hiking" and body["clip_count"] == 2 and body["following"] is False
    assert [c["id"] for c in body["newest"]] == [str(new.id), str(old.id)]
    assert {c["id"] for c in body["top"]} == {str(new.id), str(old.id)}
    assert body["related"][0] == {"tag": "mountains", "clip_count": 2}

    followed = await client.put("/v1/hashtags/hiking/follow", headers=viewer.auth)
    assert followed.json() == {"tag": "hiking", "following": True}
    assert (await client.put("/v1/hashtags/hiking/follow", headers=viewer.auth)).status_code == 200
    assert (await client.get("/v1/me/hashtags", headers=viewer.auth)).json() == {"items": ["hiking"]}
    assert (await client.get("/v1/hashtags/hiking", headers=viewer.auth)).json()["following"] is True
    assert (await client.delete("/v1/hashtags/hiking/follow", headers=viewer.auth)).json()["following"] is False
    assert (await client.get("/v1/me/hashtags", headers=viewer.auth)).json() == {"items": []}

    assert_problem(await client.get("/v1/hashtags/nosuchtag"), 404)
    assert_problem(await client.get("/v1/hashtags/not-a-tag"), 422)
    assert_problem(await client.put("/v1/hashtags/hiking/follow"), 401)
    assert_problem(await client.put("/v1/hashtags/nosuchtag/follow", headers=viewer.auth), 404)


async def test_discover_is_not_empty_on_a_fresh_instance(client, services) -> None:
    first = await add_creator("first_creator", services=services)
    second = await add_creator("second_creator", services=services)
    await add_clip(first, "hello world #firstpost", services=services)
    await add_clip(second, "my cat #firstpost #cats", services=services)
    body = (await client.get("/v1/discover")).json()
    assert body["hashtags"][0]["tag"] == "firstpost" and len(body["hashtags"][0]["clips"]) == 2
    assert {c["handle"] for c in body["trending_creators"]} == {"first_creator", "second_creator"}
    assert [c["handle"] for c in body["new_creators"]] == ["second_creator", "first_creator"]


async def test_similar_clips_are_close_in_meaning_and_visible(client, services) -> None:
    owner = await add_creator("pet_channel", services=services)
    kitten = await add_clip(owner, "kitten jumps on the table and falls #kitty #fail", services=services)
    cat = await add_clip(owner, "my cat slips off the counter", services=services)
    car = await add_clip(owner, "changing the oil of an old diesel car", services=services)
    hidden = await add_clip(owner, "cat falls off the sofa", visibility="private", services=services)
    await embed_clips(db=services.db, clip_ids=[kitten.id, cat.id, car.id, hidden.id])
    response = await client.get(f"/v1/clips/{kitten.id}/similar")
    assert response.status_code == 200, response.text
    found = [int(c["id"]) for c in response.json()["items"]]
    assert found[0] == cat.id and hidden.id not in found and kitten.id not in found
    assert_problem(await client.get(f"/v1/clips/{hidden.id}/similar"), 404)


async def test_mute_filters_hide_words_phrases_and_hashtags(client, services) -> None:
    viewer = await signup(client, "quiet_viewer")
    owner = await add_creator("series_talk", services=services)
    spoiler = await add_clip(owner, "Season finale SPÓILERS ahead: the ending explained", services=services)
    tagged = await add_clip(owner, "season finale reactions #spoilers", services=services)
    phrase = await add_clip(owner, "season finale: the red wedding scene", services=services)
    fine = await add_clip(owner, "season finale predictions, no leaks", services=services)

    async def found() -> set[int]:
        body = (await client.get("/v1/search", params={"q": "season finale", "limit": "50"}, headers=viewer.auth))
        return set(clip_ids(body.json()))

    assert await found() == {spoiler.id, tagged.id, phrase.id, fine.id}
    for kind, value in (("word", "spoilers"), ("hashtag", "#Spoilers"), ("word", "Red Wedding")):
        added = await client.post("/v1/me/filters", headers=viewer.auth, json={"kind": kind, "value": value})
        assert added.status_code == 201, added.text
    assert await found() == {fine.id}
    listed = (await client.get("/v1/me/filters", headers=viewer.auth)).json()["items"]
    assert listed == [{"kind": "hashtag", "value": "spoilers"}, {"kind": "word", "value": "red wedding"},
                      {"kind": "word", "value": "spoilers"}]
    # Unmuting the phrase brings its clip back.
    assert (await client.delete("/v1/me/filters/word/red wedding", headers=viewer.auth)).status_code == 204
    assert await found() == {fine.id, phrase.id}
    anonymous = set(clip_ids((await client.get("/v1/search", params={"q": "season finale"})).json()))
    assert anonymous == {spoiler.id, tagged.id, phrase.id, fine.id}
    assert_problem(await client.post("/v1/me/filters", headers=viewer.auth, json={"kind": "word", "value": "!!"}), 422)
    assert_problem(await client.get("/v1/me/filters"), 401)


def test_mutes_match_whole_words_folded() -> None:
    from clipfeed.clips.models import Clip
    from clipfeed.search.mutes import Mutes

    mutes = Mutes(phrases=[["cat"], ["red", "wedding"]], tags={"gore"})
    assert not mutes.hides(Clip(caption="a catalogue of red dresses at a wedding", hashtags=[]))
    assert mutes.hides(Clip(caption="my CAT, asleep", hashtags=[]))
    assert mutes.hides(Clip(caption="the Red  Wedding", hashtags=[]))
    assert mutes.hides(Clip(caption="fx makeup", hashtags=["gore"]))
