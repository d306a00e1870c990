"""The inbox, fed by the fan-out worker from the event log, with two to four users."""

from __future__ import annotations

import sqlalchemy as sa

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.infra.log import Record
from clipfeed.notifications.models import CreatorAnnouncement, Notification
from clipfeed.notifications.worker import NotificationFanout
from tests.helpers import assert_problem, signup
from tests.social.support import caught_up, ready_clip, stream_role


async def _inbox(client, who) -> dict:
    reply = await client.get("/v1/notifications", headers=who.auth)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def test_follows_likes_comments_replies_mentions_and_shares_notify_the_right_people(client, services) -> None:
    alice, bob, carol, dave = [await signup(client, n) for n in ("alice", "bob", "carol", "dave")]
    clip = await ready_clip(client, services, alice)
    async with stream_role(services=services):
        await client.put("/v1/users/alice/follow", headers=bob.auth)
        for fan in (bob, carol, dave):
            await client.put(f"/v1/clips/{clip}/like", headers=fan.auth)
            await caught_up(services=services)  # likes one after another: the newest liker leads
        await client.put(f"/v1/clips/{clip}/like", headers=alice.auth)  # her own: no notification
        comment = (await client.post(f"/v1/clips/{clip}/comments", headers=bob.auth,
                                     json={"body": "love it, look @carol"})).json()
        await client.post(f"/v1/clips/{clip}/comments", headers=alice.auth,
                          json={"body": "thank you!", "parent_id": comment["id"]})
        await client.post(f"/v1/clips/{clip}/shares", headers=carol.auth, json={"channel": "user", "to_user": "dave"})
        await caught_up(services=services)
        for_alice = await _inbox(client, alice)
        texts = [n["text"] for n in for_alice["items"]]
        assert texts[:2] == ["@bob commented on your clip", "@dave and 2 others liked your clip"]
        assert texts[-2:] == ["@bob started following you", "Your clip is ready and published"]
        assert len(texts) == 4 and for_alice["unread_count"] == 4
        likes = for_alice["items"][1]
        assert likes["actor_count"] == 3 and [a["handle"] for a in likes["actors"]] == ["dave", "carol", "bob"]
        assert for_alice["items"][0]["excerpt"] == "love it, look @carol"
        assert [(n["kind"], n["text"]) for n in (await _inbox(client, bob))["items"]] == [
            ("reply", "@alice replied to your comment")]
        assert [(n["kind"], n["clip_id"]) for n in (await _inbox(client, carol))["items"]] == [("mention", clip)]
        assert [n["text"] for n in (await _inbox(client, dave))["items"]] == ["@carol sent you a clip"]
        # A deleted comment takes its notifications with it.
        await client.delete(f"/v1/clips/{clip}/comments/{comment['id']}", headers=bob.auth)
        assert (await _inbox(client, carol))["items"] == []
        assert [n["kind"] for n in (await _inbox(client, alice))["items"]][:1] == ["like"]


async def test_unread_counts_fall_as_notifications_are_read_and_only_by_their_owner(client, services) -> None:
    alice, bob, carol = [await signup(client, n) for n in ("alice", "bob", "carol")]
    async with stream_role(services=services):
        for fan in (bob, carol):
            await client.put("/v1/users/alice/follow", headers=fan.auth)
        await caught_up(services=services)
    assert (await client.get("/v1/notifications/unread-count", headers=alice.auth)).json() == {"unread_count": 2}
    first = (await client.get("/v1/notifications?limit=1", headers=alice.auth)).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = (await client.get(f"/v1/notifications?limit=1&cursor={first['next_cursor']}",
                               headers=alice.auth)).json()
    assert [n["text"] for n in first["items"] + second["items"]] == ["@carol started following you",
                                                                      "@bob started following you"]
    target = first["items"][0]["id"]
    assert_problem(await client.post(f"/v1/notifications/{target}/read", headers=bob.auth), 404)
    assert (await client.post(f"/v1/notifications/{target}/read", headers=alice.auth)).json() == {
        "id": target, "read": True, "unread_count": 1}
    unread = (await client.get("/v1/notifications?unread_only=true", headers=alice.auth)).json()
    assert [n["text"] for n in unread["items"]] == ["@bob started following you"]
    assert (await client.post("/v1/notifications/read-all", headers=alice.auth)).json()["unread_count"] == 0
    assert (await client.get("/v1/notifications/unread-count", headers=alice.auth)).json() == {"unread_count": 0}
    assert_problem(await client.get("/v1/notifications"), 401)


async def test_muted_kinds_and_blocked_people_do_not_notify(client, services) -> None:
    alice, bob, carol = [await signup(client, n) for n in ("alice", "bob", "carol")]
    clip = await ready_clip(client, services, alice)
    muted = await client.patch("/v1/notifications/preferences", headers=alice.auth, json={"kinds": {"like": False}})
    assert muted.json()["kinds"]["like"] is False and muted.json()["kinds"]["comment"] is True
    assert_problem(await client.patch("/v1/notifications/preferences", headers=alice.auth,
                                      json={"kinds": {"pokes": False}}), 422)
    bobs_clip = await ready_clip(client, services, bob)
    secret = await ready_clip(client, services, alice, visibility="private")
    await client.put("/v1/users/carol/block", headers=alice.auth)
    async with stream_role(services=services):
        await client.put(f"/v1/clips/{clip}/like", headers=bob.auth)
        await client.post(f"/v1/clips/{bobs_clip}/comments", headers=carol.auth, json={"body": "hey @alice"})
        await client.put("/v1/users/alice/follow", headers=bob.auth)
        await client.post(f"/v1/clips/{secret}/comments", headers=alice.auth, json={"body": "note to @bob"})
        await caught_up(services=services)
    assert [n["kind"] for n in (await _inbox(client, alice))["items"]] == ["follow", "clip_ready", "clip_ready"]
    # Bob hears of carol's comment on his clip, not of a mention on a clip he may not see.
    assert [n["kind"] for n in (await _inbox(client, bob))["items"]] == ["comment", "clip_ready"]
    assert (await client.get("/v1/notifications/unread-count", headers=bob.auth)).json()["unread_count"] == 2
    prefs = (await client.get("/v1/notifications/preferences", headers=alice.auth)).json()["kinds"]
    assert prefs["like"] is False and prefs["follow"] is True


async def test_new_clips_reach_followers_on_write_below_the_threshold_and_on_read_above(client, services) -> None:
    services.settings.notifications_fanout_threshold = 1
    sam, bea, bob, carol, dave = [await signup(client, n) for n in ("sam", "bea", "bob", "carol", "dave")]
    await client.put("/v1/users/sam/follow", headers=bob.auth)  # sam: 1 follower, at the threshold
    for fan in (bob, carol):  # bea: 2 followers, above it
        await client.put("/v1/users/bea/follow", headers=fan.auth)
    async with stream_role(services=services):
        small = await ready_clip(client, services, sam, caption="from sam")
        big = await ready_clip(client, services, bea, caption="from bea")
        await ready_clip(client, services, bea, caption="unlisted", visibility="unlisted")
        await caught_up(services=services)
        async with services.db.shard_session(bob.id) as session:
            written = (await session.scalars(sa.select(Notification.clip_id).where(
                Notification.recipient_id == bob.id, Notification.kind == "new_clip"))).all()
        assert list(written) == [int(small)]  # sam's: on write; bea's: not yet
        async with services.db.session() as session:
            announced = (await session.scalars(sa.select(CreatorAnnouncement.clip_id))).all()
        assert list(announced) == [int(big)]
        await client.put("/v1/users/bea/follow", headers=dave.auth)  # follows after the post
        for_bob = (await _inbox(client, bob))["items"]
        assert [(n["text"], n["clip_id"]) for n in for_bob] == [("@bea posted a new clip", big),
                                                                ("@sam posted a new clip", small)]
        assert (await client.get("/v1/notifications/unread-count", headers=carol.auth)).json()["unread_count"] == 1
        assert (await _inbox(client, dave))["items"] == []
        assert len((await _inbox(client, bob))["items"]) == 2  # merged once, not on every read
        rejected = int((await client.post("/v1/clips", headers=sam.auth, json={"caption": "nope"})).json()["id"])
        await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=rejected,
                                       status=ClipStatus.rejected, reason="contains a copyrighted song")
        await caught_up(services=services)
    texts = [n["text"] for n in (await _inbox(client, sam))["items"]]
    assert texts[0] == "Your clip was not published: contains a copyrighted song"
    assert "Your clip is ready and published" in texts


async def test_redelivered_events_write_nothing_twice(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clip = await ready_clip(client, services, alice)
    await client.put("/v1/users/alice/follow", headers=bob.auth)
    await client.put(f"/v1/clips/{clip}/like", headers=bob.auth)
    await services.outbox.flush()
    records: list[Record] = []
    for topic in ("social", "clips"):
        for partition in range(await services.log.partitions(topic)):
            records += await services.log.read(topic, partition, from_offset=0)
    fanout = NotificationFanout(services)
    await fanout.handle(records)
    await fanout.handle(records)  # the whole batch again, as after a crash before the ack
    for record in records:
        await fanout.handle_one(record)  # and each record alone, as on the retry path
    items = (await _inbox(client, alice))["items"]
    assert [(n["kind"], n["actor_count"]) for n in items] == [("like", 1), ("follow", 1), ("clip_ready", 0)]
