"""Comments: threads, sorting, paging, editing, deleting, likes, pinning, settings, the text
filter with moderation, blocks and privacy, with two to four users."""

from __future__ import annotations

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role
from tests.helpers import assert_problem, signup
from tests.social.support import ready_clip, social_events


async def _comment(client, clip: str, who, body: str, parent: str | None = None) -> dict:
    made = await client.post(f"/v1/clips/{clip}/comments", headers=who.auth,
                             json={"body": body, **({"parent_id": parent} if parent else {})})
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_comments_thread_one_level_sort_by_top_or_new_and_page(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    clip = await ready_clip(client, services, alice)
    first = await _comment(client, clip, bob, "first!")
    second = await _comment(client, clip, carol, "second")
    third = await _comment(client, clip, bob, "third")
    reply = await _comment(client, clip, alice, "thanks @bob", parent=first["id"])
    nested = await _comment(client, clip, carol, "me too", parent=reply["id"])  # a reply to a reply
    assert reply["parent_id"] == first["id"] and nested["parent_id"] == first["id"]  # one level only
    for liker in (alice, carol):
        assert (await client.put(f"/v1/clips/{clip}/comments/{second['id']}/like", headers=liker.auth)).json() == {
            "comment_id": second["id"], "liked": True, "like_count": 1 if liker is alice else 2}
    assert (await client.put(f"/v1/clips/{clip}/comments/{second['id']}/like", headers=carol.auth)).json()[
        "like_count"] == 2  # liking twice counts once
    await client.put(f"/v1/clips/{clip}/comments/{third['id']}/like", headers=alice.auth)
    top = (await client.get(f"/v1/clips/{clip}/comments?sort=top&limit=2", headers=carol.auth)).json()
    assert [c["id"] for c in top["items"]] == [second["id"], third["id"]]
    assert [c["liked_by_me"] for c in top["items"]] == [True, False]
    rest = (await client.get(f"/v1/clips/{clip}/comments?sort=top&limit=2&cursor={top['next_cursor']}")).json()
    assert [c["id"] for c in rest["items"]] == [first["id"]] and rest["items"][0]["reply_count"] == 2
    new = (await client.get(f"/v1/clips/{clip}/comments?sort=new")).json()
    assert [c["id"] for c in new["items"]] == [third["id"], second["id"], first["id"]]
    thread = (await client.get(f"/v1/clips/{clip}/comments/{first['id']}/replies")).json()
    assert [c["body"] for c in thread["items"]] == ["thanks @bob", "me too"]  # oldest first
    assert thread["items"][0]["author"]["handle"] == "alice"
    created = await social_events("comment.created", services=services)
    assert len(created) == 5
    replied = next(e for e in created if e.payload["comment_id"] == nested["id"])
    assert replied.payload["reply_to_user_id"] == str(alice.id) and replied.payload["creator_id"] == str(alice.id)
    mentioned = next(e for e in created if e.payload["comment_id"] == reply["id"])
    assert mentioned.payload["mention_ids"] == [str(bob.id)]


async def test_only_the_author_edits_and_only_within_the_window(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clip = await ready_clip(client, services, alice)
    mine = await _comment(client, clip, bob, "tpyo")
    assert mine["editable_until"] is not None
    edited = await client.patch(f"/v1/clips/{clip}/comments/{mine['id']}", headers=bob.auth, json={"body": "typo"})
    assert edited.status_code == 200 and edited.json()["body"] == "typo" and edited.json()["edited_at"]
    assert_problem(await client.patch(f"/v1/clips/{clip}/comments/{mine['id']}", headers=alice.auth,
                                      json={"body": "mine now"}), 403)
    assert_problem(await client.patch(f"/v1/clips/{clip}/comments/{mine['id']}", headers=bob.auth,
                                      json={"body": "   "}), 422)
    services.settings.social_comment_edit_window_s = 0
    late = await client.patch(f"/v1/clips/{clip}/comments/{mine['id']}", headers=bob.auth, json={"body": "later"})
    assert_problem(late, 403)
    assert (await client.get(f"/v1/clips/{clip}/comments")).json()["items"][0]["body"] == "typo"


async def test_the_author_or_the_creator_may_delete_and_a_thread_goes_with_its_comment(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    clip = await ready_clip(client, services, alice)
    rude = await _comment(client, clip, bob, "meh")
    reply = await _comment(client, clip, carol, "agreed", parent=rude["id"])
    other = await _comment(client, clip, carol, "lovely")
    assert_problem(await client.delete(f"/v1/clips/{clip}/comments/{other['id']}", headers=bob.auth), 403)
    assert (await client.delete(f"/v1/clips/{clip}/comments/{rude['id']}", headers=alice.auth)).json() == {
        "id": rude["id"], "deleted": True}
    assert [c["id"] for c in (await client.get(f"/v1/clips/{clip}/comments")).json()["items"]] == [other["id"]]
    assert_problem(await client.get(f"/v1/clips/{clip}/comments/{rude['id']}/replies"), 404)
    assert_problem(await client.delete(f"/v1/clips/{clip}/comments/{reply['id']}", headers=carol.auth), 404)
    assert (await client.delete(f"/v1/clips/{clip}/comments/{other['id']}", headers=carol.auth)).status_code == 200
    deleted = await social_events("comment.deleted", services=services)
    assert sorted(e.payload["comment_id"] for e in deleted) == sorted([rude["id"], reply["id"], other["id"]])


async def test_the_creator_pins_one_comment_which_comes_first(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clip = await ready_clip(client, services, alice)
    old = await _comment(client, clip, bob, "old news")
    mid = await _comment(client, clip, bob, "middle")
    await _comment(client, clip, bob, "latest")
    assert_problem(await client.put(f"/v1/clips/{clip}/comments/{old['id']}/pin", headers=bob.auth), 403)
    assert (await client.put(f"/v1/clips/{clip}/comments/{old['id']}/pin", headers=alice.auth)).json()["pinned"]
    assert (await client.put(f"/v1/clips/{clip}/comments/{mid['id']}/pin", headers=alice.auth)).json()["pinned"]
    listed = (await client.get(f"/v1/clips/{clip}/comments?sort=new&limit=2")).json()
    assert [(c["body"], c["pinned"]) for c in listed["items"]] == [("middle", True), ("latest", False)]
    second_page = (await client.get(f"/v1/clips/{clip}/comments?sort=new&cursor={listed['next_cursor']}")).json()
    assert [c["body"] for c in second_page["items"]] == ["old news"]  # pinned shows once, old one unpinned
    settings = (await client.get(f"/v1/clips/{clip}/comment-settings")).json()
    assert settings["pinned_comment_id"] == mid["id"]
    await client.delete(f"/v1/clips/{clip}/comments/{mid['id']}/pin", headers=alice.auth)
    assert (await client.get(f"/v1/clips/{clip}/comment-settings")).json()["pinned_comment_id"] is None


async def test_comment_settings_let_the_creator_allow_followers_only_or_nobody(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    clip = await ready_clip(client, services, alice)
    await client.put("/v1/users/alice/follow", headers=bob.auth)
    assert_problem(await client.put(f"/v1/clips/{clip}/comment-settings", headers=bob.auth,
                                    json={"comments": "off"}), 403)
    changed = await client.put(f"/v1/clips/{clip}/comment-settings", headers=alice.auth, json={"comments": "followers"})
    assert changed.json()["comments"] == "followers"
    assert (await client.get(f"/v1/clips/{clip}/engagement", headers=carol.auth)).json()["can_comment"] is False
    assert (await client.get(f"/v1/clips/{clip}/engagement", headers=bob.auth)).json()["can_comment"] is True
    assert_problem(await client.post(f"/v1/clips/{clip}/comments", headers=carol.auth, json={"body": "hi"}), 403)
    await _comment(client, clip, bob, "a follower may")
    await _comment(client, clip, alice, "and so may I")
    await client.put(f"/v1/clips/{clip}/comment-settings", headers=alice.auth, json={"comments": "off"})
    for who in (alice, bob):
        assert_problem(await client.post(f"/v1/clips/{clip}/comments", headers=who.auth, json={"body": "x"}), 403)
    assert len((await client.get(f"/v1/clips/{clip}/comments")).json()["items"]) == 2  # still readable
    assert_problem(await client.put(f"/v1/clips/{clip}/comment-settings", headers=alice.auth,
                                    json={"comments": "friends"}), 422)


async def test_the_text_filter_rejects_or_holds_and_moderators_decide(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    mod = await signup(client, "mod_mona")
    await accounts.set_role(db=services.db, cache=services.cache, handle="mod_mona", role=Role.moderator)
    clip = await ready_clip(client, services, alice)
    reject_word = (await _wordlist("reject"))[0]
    refused = assert_problem(await client.post(f"/v1/clips/{clip}/comments", headers=bob.auth,
                                               json={"body": f"you {reject_word}"}), 422)
    assert refused["reasons"] == ["language that is not allowed here"]
    links = "see http://a.example http://b.example http://c.example !!!!!!!!!!!!!!"
    held = await _comment(client, clip, bob, links)
    assert held["status"] == "held"
    assert [c["id"] for c in (await client.get(f"/v1/clips/{clip}/comments", headers=bob.auth)).json()["items"]] == [
        held["id"]]
    assert (await client.get(f"/v1/clips/{clip}/comments", headers=carol.auth)).json()["items"] == []
    queue = (await client.get("/v1/moderation/queue?kind=comment", headers=mod.auth)).json()["items"]
    assert [c["subject_id"] for c in queue] == [held["id"]]
    assert not await social_events("comment.created", services=services)  # held: not counted, nobody notified
    await client.post(f"/v1/moderation/cases/{queue[0]['id']}/approve", headers=mod.auth)
    shown = (await client.get(f"/v1/clips/{clip}/comments", headers=carol.auth)).json()["items"]
    assert [(c["id"], c["status"]) for c in shown] == [(held["id"], "visible")]
    assert len(await social_events("comment.created", services=services)) == 1
    # Reports: only what the reporter can see; a rejection removes the comment.
    assert_problem(await client.post("/v1/reports", headers=bob.auth,
                                     json={"kind": "comment", "id": held["id"], "category": "spam"}), 400)
    assert_problem(await client.post("/v1/reports", headers=carol.auth,
                                     json={"kind": "comment", "id": "12345", "category": "spam"}), 404)
    report = await client.post("/v1/reports", headers=carol.auth,
                               json={"kind": "comment", "id": held["id"], "category": "spam"})
    assert report.status_code == 202
    await client.post(f"/v1/moderation/cases/{report.json()['case_id']}/reject", headers=mod.auth,
                      json={"reason": "spam"})
    assert (await client.get(f"/v1/clips/{clip}/comments", headers=bob.auth)).json()["items"] == []
    assert len(await social_events("comment.deleted", services=services)) == 1


async def _wordlist(name: str) -> list[str]:
    from clipfeed.moderation.text import WORDLISTS

    return [line.strip() for line in (WORDLISTS / f"{name}.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


async def test_blocks_and_private_clips_hide_comments_and_stop_commenting(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    clip = await ready_clip(client, services, alice)
    by_bob = await _comment(client, clip, bob, "bob was here")
    await _comment(client, clip, carol, "carol too")
    await client.put("/v1/users/bob/block", headers=carol.auth)
    seen_by_carol = (await client.get(f"/v1/clips/{clip}/comments", headers=carol.auth)).json()["items"]
    assert [c["body"] for c in seen_by_carol] == ["carol too"]
    seen_by_bob = (await client.get(f"/v1/clips/{clip}/comments", headers=bob.auth)).json()["items"]
    assert [c["body"] for c in seen_by_bob] == ["bob was here"]
    assert_problem(await client.post(f"/v1/clips/{clip}/comments", headers=carol.auth,
                                     json={"body": "hey", "parent_id": by_bob["id"]}), 404)
    assert_problem(await client.put(f"/v1/clips/{clip}/comments/{by_bob['id']}/like", headers=carol.auth), 404)
    await client.put("/v1/users/bob/block", headers=alice.auth)  # the creator blocks: the clip is gone for bob
    assert_problem(await client.get(f"/v1/clips/{clip}/comments", headers=bob.auth), 404)
    assert_problem(await client.post(f"/v1/clips/{clip}/comments", headers=bob.auth, json={"body": "x"}), 404)
    private = await ready_clip(client, services, alice, visibility="private")
    assert_problem(await client.get(f"/v1/clips/{private}/comments", headers=carol.auth), 404)
    assert_problem(await client.post(f"/v1/clips/{private}/comments", headers=carol.auth, json={"body": "x"}), 404)
    assert (await client.post(f"/v1/clips/{private}/comments", headers=alice.auth, json={"body": "note"})).is_success


async def test_comment_writes_are_rate_limited(client, services) -> None:
    services.settings.social_comment_rate_per_minute = 2
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clip = await ready_clip(client, services, alice)
    for n in range(2):
        await _comment(client, clip, bob, f"comment {n}")
    limited = await client.post(f"/v1/clips/{clip}/comments", headers=bob.auth, json={"body": "one more"})
    assert_problem(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert (await client.post(f"/v1/clips/{clip}/comments", headers=alice.auth, json={"body": "mine"})).is_success
