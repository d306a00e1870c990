"""``POST /v1/events``: validation per event, partial success, deduplication, enrichment and
publication to both activity topics, on both stacks."""

from __future__ import annotations

import time

import orjson

from clipfeed.core.contract import Topic
from clipfeed.core.viewers import ViewerId
from clipfeed.events.service import envelope_id
from clipfeed.infra.log import partition_for
from tests.helpers import assert_problem, signup
from tests.stream.pipeline import event, send


async def _published(topic: str, *, services) -> list[dict]:
    out = []
    for partition in range(await services.log.partitions(topic)):
        for record in await services.log.read(topic, partition, from_offset=0):
            body = orjson.loads(record.value)
            assert partition == partition_for(record.key, await services.log.partitions(topic), 0)
            out.append({"record_key": record.key.decode(), **body})
    return out


async def test_valid_events_are_enriched_and_published_keyed_by_clip_and_by_viewer(client, services) -> None:
    alice = await signup(client, "alice")
    now = time.time()
    batch = [event("impression", 11, now - 5, source="search"), event("play_start", "11", now - 4),
             event("progress", 11, now - 2, watch_ms=2000, position_ms=2000),
             event("skip", 12, now - 1, position_ms=800),
             event("progress", 13, now - 1, watch_ms=3000, position_ms=3000, ended=True)]
    result = await send(client, batch, alice.auth)
    assert result == {"accepted": 5, "duplicates": 0, "rejected": []}
    by_clip = await _published(Topic.ACTIVITY_CLIPS, services=services)
    by_user = await _published(Topic.ACTIVITY_USERS, services=services)
    assert sorted(e["key"] for e in by_clip) == ["11", "11", "11", "12", "13"]
    assert {e["record_key"] for e in by_user} == {f"u:{alice.id}"}
    assert [e["id"] for e in sorted(by_user, key=lambda e: e["id"])] == [
        e["id"] for e in sorted(by_clip, key=lambda e: e["id"])]
    progress = next(e for e in by_user if e["type"] == "progress" and e["key"] == "11")
    left = next(e for e in by_user if e["key"] == "13")
    assert left["payload"]["ended"] is True and progress["payload"]["ended"] is False
    assert progress["id"] == envelope_id(f"u:{alice.id}", batch[2]["event_id"])
    assert progress["actor_id"] == alice.id and progress["region"] == services.settings.region
    assert progress["payload"]["watch_ms"] == 2000 and progress["payload"]["viewer"] == f"u:{alice.id}"
    assert progress["payload"]["client_event_id"] == batch[2]["event_id"]
    assert abs(progress["payload"]["received_ms"] / 1000 - now) < 30


async def test_each_bad_event_is_reported_and_the_good_ones_are_kept(client, services) -> None:
    alice = await signup(client, "alice")
    now = time.time()
    batch = [
        event("play_start", 1, now),                              # fine
        event("progress", 1, now),                                # progress without watch_ms
        event("teleport", 1, now),                                # unknown type
        event("play_start", 1, now + 3600),                       # an hour in the future
        event("play_start", 1, now - 3 * 86400),                  # three days old
        {**event("play_start", 1, now), "secret": "x"},           # unknown field
        {**event("skip", 1, now, position_ms=10), "watch_ms": -5},  # negative time
        event("impression", 1, now, watch_ms=10),                 # a field this type does not carry
        "not even an object",
        event("skip", 1, now, position_ms=10, ended=True),         # only progress reports say a play ended
    ]
    result = await send(client, batch, alice.auth)
    assert result["accepted"] == 1 and result["duplicates"] == 0
    reasons = {r["index"]: r["reason"] for r in result["rejected"]}
    assert reasons == {1: "invalid", 2: "invalid", 3: "clock_skew", 4: "too_old", 5: "invalid", 6: "invalid",
                       7: "invalid", 8: "invalid", 9: "invalid"}
    details = {r["index"]: r["detail"] for r in result["rejected"]}
    assert "watch_ms" in details[1] and "secret" in details[5] and "ended" in details[9]
    assert result["rejected"][0]["event_id"] == batch[1]["event_id"]
    assert len(await _published(Topic.ACTIVITY_CLIPS, services=services)) == 1


async def test_a_resent_batch_is_reported_as_duplicates_and_not_published_again(client, services) -> None:
    alice = await signup(client, "alice")
    batch = [event("play_start", 5, time.time()), event("complete", 5, time.time(), duration_ms=9000)]
    assert (await send(client, batch, alice.auth))["accepted"] == 2
    again = await send(client, [*batch, batch[0]], alice.auth)
    assert again == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert len(await _published(Topic.ACTIVITY_CLIPS, services=services)) == 2


async def test_anonymous_viewers_need_a_device_id(client, services) -> None:
    batch = [event("play_start", 7, time.time())]
    assert_problem(await client.post("/v1/events", json={"events": batch}), 401)
    assert_problem(await client.post("/v1/events", json={"events": batch}, headers={"X-Device-Id": "../x"}), 401)
    result = await send(client, batch, {"X-Device-Id": "phone-1234"})
    assert result["accepted"] == 1
    (published,) = await _published(Topic.ACTIVITY_USERS, services=services)
    # The device ID itself is never published: the viewer is its hash, as the feed keys it.
    assert published["record_key"] == ViewerId.anonymous("phone-1234").key == published["payload"]["viewer"]
    assert published["record_key"].startswith("d:") and "phone-1234" not in str(published)
    assert published["actor_id"] is None


async def test_malformed_and_oversized_batches_are_refused_whole(client, services) -> None:
    alice = await signup(client, "alice")
    headers = {**alice.auth, "Content-Type": "application/json"}
    assert_problem(await client.post("/v1/events", content=b"{not json", headers=headers), 400)
    assert_problem(await client.post("/v1/events", json={"evts": []}, headers=alice.auth), 422)
    many = [event("impression", 1, time.time()) for _ in range(services.settings.events_max_batch + 1)]
    assert_problem(await client.post("/v1/events", json={"events": many}, headers=alice.auth), 413)
    huge = b'{"events": [], "pad": "' + b"x" * (services.settings.events_max_body_bytes + 10) + b'"}'
    assert_problem(await client.post("/v1/events", content=huge, headers=headers), 413)


async def test_the_region_comes_from_the_edge_header_only_when_configured(client, services) -> None:
    alice = await signup(client, "alice")
    await send(client, [event("play_start", 3, time.time())], {**alice.auth, "X-Viewer-Region": "eu-west"})
    services.settings.events_region_header = "X-Viewer-Region"
    await send(client, [event("play_start", 4, time.time())], {**alice.auth, "X-Viewer-Region": "EU-West"})
    await send(client, [event("play_start", 5, time.time())], {**alice.auth, "X-Viewer-Region": "bad region!"})
    regions = {e["key"]: e["region"] for e in await _published(Topic.ACTIVITY_CLIPS, services=services)}
    assert regions == {"3": services.settings.region, "4": "eu-west", "5": services.settings.region}
