"""Helpers of the pipeline tests: the stream role in the test process, events to send, a
fixed scenario with known results."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.core.contract import Topic
from tests.helpers import Account, signup


@contextlib.asynccontextmanager
async def running_role(role: str = "stream", *, services: Any) -> AsyncIterator[None]:
    from clipfeed.workers import run_role

    stop = asyncio.Event()
    task = asyncio.create_task(run_role(role, stop, services=services))
    try:
        yield
    finally:
        stop.set()
        await task


def event(kind: str, clip_id: int | str, ts: float, *, session: str = "s1", **fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": kind, "clip_id": str(clip_id),
            "ts": int(ts * 1000), "session_id": session, "device": "web", "network": "wifi", **fields}


async def send(client: httpx.AsyncClient, events: list[dict[str, Any]], headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/v1/events", json={"events": events}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def social(kind: str, *, services: Any, user_id: int, key: int, event_id: int | None = None,
           **payload: Any) -> bytes:
    """An encoded social event as the social feature's outbox would publish it."""
    from clipfeed.core.events import Event

    body = {"user_id": str(user_id), **{k: str(v) for k, v in payload.items()}}
    return Event(id=event_id or services.ids.next_id(), type=kind, key=str(key), actor_id=user_id,
                 region=services.settings.region, payload=body).encode()


async def publish_social(encoded: list[bytes], *, services: Any) -> None:
    from clipfeed.infra.log import OutgoingRecord

    records = []
    for raw in encoded:
        import orjson

        records.append(OutgoingRecord(raw, key=orjson.loads(raw)["key"].encode()))
    await services.log.append_batch(Topic.SOCIAL, records)


async def make_clip(client: httpx.AsyncClient, services: Any, owner: Account, caption: str,
                    visibility: str = "public") -> int:
    made = await client.post("/v1/clips", headers=owner.auth, json={"caption": caption, "visibility": visibility})
    assert made.status_code == 201, made.text
    clip_id = int(made.json()["id"])
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip_id, status=ClipStatus.ready)
    return clip_id


@dataclass
class Scenario:
    """Who and what of the golden sequence."""

    accounts: dict[str, Account]
    clips: dict[str, int]
    base: float
    client_batches: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    social_events: list[bytes] = field(default_factory=list)


def start_time(now: float | None = None) -> float:
    """A moment ago, but never across a UTC midnight (views count per day)."""
    now = time.time() if now is None else now
    return max(now - 100, now // 86400 * 86400 + 1)


async def golden(client: httpx.AsyncClient, services: Any) -> Scenario:
    """Three clips by dave; alice, bob and carol watch and react; mallory spams clip C; an
    anonymous device plays clip A. Expected results are spelled out in the tests."""
    accounts = {name: await signup(client, name) for name in ("dave", "alice", "bob", "carol", "mallory")}
    dave = accounts["dave"]
    clips = {"A": await make_clip(client, services, dave, "A #cats #funny"),
             "B": await make_clip(client, services, dave, "B #dogs"),
             "C": await make_clip(client, services, dave, "C #cats")}
    scenario = Scenario(accounts, clips, start_time())
    a, b, c, t = clips["A"], clips["B"], clips["C"], scenario.base
    scenario.client_batches = [
        ("alice", [event("impression", a, t, source="foryou"), event("play_start", a, t + 1, source="foryou"),
                   event("progress", a, t + 6, watch_ms=5000, position_ms=5000),
                   event("complete", a, t + 9, watch_ms=3000, duration_ms=8000), event("replay", a, t + 10),
                   event("play_start", a, t + 10, source="foryou"), event("share", a, t + 12)]),
        ("bob", [event("impression", a, t + 20, source="following"),
                 event("play_start", a, t + 21, source="following"),
                 event("skip", a, t + 22, position_ms=1200, watch_ms=1200),
                 event("impression", b, t + 23, source="foryou"), event("play_start", b, t + 24, session="s2"),
                 event("progress", b, t + 28, session="s2", watch_ms=4000, position_ms=4000),
                 event("complete", b, t + 30, session="s2", watch_ms=2000, duration_ms=6000)]),
        ("carol", [event("play_start", c, t + 40), event("not_interested", c, t + 41),
                   event("play_start", b, t + 42, session="s3"),
                   event("skip", b, t + 43, session="s3", position_ms=500, watch_ms=500)]),
        ("anon:device-0001", [event("play_start", a, t + 50)]),
        ("mallory", [event("play_start", c, t + 60 + i, session=f"m{i}") for i in range(30)]),
    ]
    ids = accounts
    scenario.social_events = [
        social("like.added", user_id=ids["alice"].id, key=b, clip_id=b, creator_id=dave.id, services=services),
        social("like.added", user_id=ids["bob"].id, key=a, clip_id=a, creator_id=dave.id, services=services),
        social("comment.created", user_id=ids["carol"].id, key=a, clip_id=a, creator_id=dave.id,
               comment_id=services.ids.next_id(),
               services=services),
        social("follow.added", user_id=ids["alice"].id, key=dave.id, followee_id=dave.id, services=services),
    ]
    for i in range(20):  # like, unlike, like, ... ends unliked
        kind = "like.added" if i % 2 == 0 else "like.removed"
        scenario.social_events.append(social(kind, user_id=ids["mallory"].id, key=c, clip_id=c, creator_id=dave.id,
                                             services=services))
    return scenario


def headers_for(scenario: Scenario, who: str) -> dict[str, str]:
    if who.startswith("anon:"):
        return {"X-Device-Id": who.removeprefix("anon:")}
    return scenario.accounts[who].auth


async def play(client: httpx.AsyncClient, services: Any, scenario: Scenario, *, shuffled: bool = False,
               twice: bool = False) -> None:
    """Send the scenario; ``shuffled`` reverses each viewer's batch and the social events,
    ``twice`` sends every batch and social event a second time (resent, redelivered)."""
    from clipfeed.stream.catchup import wait_for_catch_up

    order = reversed if shuffled else list
    for who, batch in order(scenario.client_batches):
        await send(client, list(order(batch)), headers_for(scenario, who))
    await publish_social(list(order(scenario.social_events)), services=services)
    await wait_for_catch_up(services=services, timeout=60)
    if twice:
        for who, batch in scenario.client_batches:  # a client resending: dropped by the API
            assert (await send(client, batch, headers_for(scenario, who)))["duplicates"] == len(batch)
        await publish_social(scenario.social_events, services=services)  # the outbox publishing again
        await append_again(Topic.ACTIVITY_CLIPS, services=services)  # redelivered past the API's deduplication
        await append_again(Topic.ACTIVITY_USERS, services=services)
        await wait_for_catch_up(services=services, timeout=60)


async def append_again(topic: str, *, services: Any) -> None:
    from clipfeed.infra.log import OutgoingRecord

    for partition in range(await services.log.partitions(topic)):
        records = await services.log.read(topic, partition, from_offset=0, limit=100_000)
        if records:
            await services.log.append_batch(topic, [OutgoingRecord(r.value, key=r.key) for r in records])
