"""In-session learning over HTTP, as the app drives it: a page, events after each clip, the next
page. A like, a long watch, a fast skip, a play left after a few seconds or "not interested" changes
the very next page, which is
served by the re-ranked path, against a twin viewer with the same buffer who sent only
impressions.

No stream worker runs here: the next page must move on what the request that reported the
signal wrote, since an app asks for it at once, before any worker could have folded the event.
"""

from __future__ import annotations

import time
import uuid

from clipfeed.recs.buffer import buffer_key
from tests.helpers import signup
from tests.recs.conftest import seed_catalogue

TAGS = ["cats", "dogs", "food", "skate", "music"]
AWAY = TAGS[:3]  # away from a hashtag: three, so the twins' next pages hold a few of it
PAIRS = 3  # viewer pairs per signal
# Towards a hashtag: five pairs. The re-rank shows at most four of a tag in ten, so the acting
# viewers' pages reach 4 x pairs, while a twin's page holds two by chance on average; with three
# pairs, the twins' three pages reached the same twelve about once in fifty runs.
PAIRS_TOWARDS = 5


async def _page(client, account, cursor=None):
    response = await client.get("/v1/feed", params={"limit": 10, **({"cursor": cursor} if cursor else {})},
                                headers=account.auth)
    assert response.status_code == 200, response.text
    return response.json()


def _tagged(page, tag: str) -> int:
    return sum(1 for item in page["items"] if tag in item["clip"]["hashtags"])


async def _post(client, account, events) -> None:
    now = int(time.time() * 1000)
    body = {"events": [{"event_id": uuid.uuid4().hex, "ts": now, "session_id": "s1", **e} for e in events]}
    response = await client.post("/v1/events", json=body, headers=account.auth)
    assert response.status_code == 200 and response.json()["accepted"] == len(events), response.text


def _impressions(page):
    return [{"type": "impression", "clip_id": item["clip"]["id"]} for item in page["items"]]


async def _pair(client, services, name: str, signal: str):
    """A viewer who sends ``signal`` on the clips of their first page that share its first
    clip's hashtag, and a twin who only reports impressions; returns that hashtag and both
    second pages. The twin's buffer is a copy of the viewer's after the first page (first pages
    of new viewers are random slices), so the signal is the only difference between them."""
    acting, twin = await signup(client, f"{name}a"), await signup(client, f"{name}b")
    firsts = [await _page(client, acting), await _page(client, twin)]
    await services.cache.set(buffer_key(f"u:{twin.id}"), await services.cache.get(buffer_key(f"u:{acting.id}")),
                             ttl=600)
    seconds = []
    tag = ""
    for account, acts, first in ((acting, True, firsts[0]), (twin, False, firsts[1])):
        events = _impressions(first)
        tag = tag or first["items"][0]["clip"]["hashtags"][0]
        targets = [item["clip"]["id"] for item in first["items"] if tag in item["clip"]["hashtags"]]
        if acts:
            if signal == "like":
                liked = await client.put(f"/v1/clips/{targets[0]}/like", headers=account.auth)
                assert liked.status_code == 200, liked.text
            elif signal == "long_watch":
                events += [{"type": "progress", "clip_id": targets[0], "watch_ms": 12_000, "position_ms": 12_000}]
            elif signal == "skip":
                events += [{"type": "skip", "clip_id": c, "position_ms": 800, "watch_ms": 800} for c in targets]
            elif signal in ("left", "heartbeat"):  # the play's last report, or one while it goes on
                events += [{"type": "progress", "clip_id": c, "position_ms": 3000, "watch_ms": 3000,
                            **({"ended": True} if signal == "left" else {})} for c in targets]
            else:
                events += [{"type": signal, "clip_id": c} for c in targets]
        await _post(client, account, events)
        seconds.append(await _page(client, account, first["next_cursor"]))
    return tag, *seconds


async def _counts(client, services, signal: str, pairs: int = PAIRS) -> tuple[int, int]:
    """Clips of the signal's hashtag on the next pages of the acting viewers and of their twins."""
    acted = alone = 0
    for n in range(pairs):
        tag, second, twin_second = await _pair(client, services, f"{signal[:4]}{n}", signal)
        assert second["served_by"] == "reranked", second["served_by"]
        assert twin_second["served_by"] == "buffer" and len(second["items"]) == 10
        acted += _tagged(second, tag)
        alone += _tagged(twin_second, tag)
    return acted, alone


async def test_a_like_brings_more_of_the_liked_hashtag_on_the_very_next_page(client, services) -> None:
    await seed_catalogue(creators=30, clips_per_creator=10, tags=TAGS, services=services)
    acted, alone = await _counts(client, services, "like", PAIRS_TOWARDS)
    assert acted >= alone + 2, (acted, alone)


async def test_a_long_watch_brings_more_of_its_hashtag_on_the_very_next_page(client, services) -> None:
    await seed_catalogue(creators=30, clips_per_creator=10, tags=TAGS, services=services)
    acted, alone = await _counts(client, services, "long_watch", PAIRS_TOWARDS)
    assert acted >= alone + 2, (acted, alone)


async def test_fast_skips_bring_fewer_of_the_skipped_hashtag_on_the_very_next_page(client, services) -> None:
    await seed_catalogue(creators=30, clips_per_creator=10, tags=AWAY, services=services)
    acted, alone = await _counts(client, services, "skip")
    assert acted + PAIRS <= alone, (acted, alone)


async def test_plays_left_after_a_few_seconds_bring_fewer_of_that_hashtag_on_the_very_next_page(
        client, services) -> None:
    await seed_catalogue(creators=30, clips_per_creator=10, tags=AWAY, services=services)
    acted, alone = await _counts(client, services, "left")
    assert acted + PAIRS <= alone, (acted, alone)


async def test_a_heartbeat_of_a_few_seconds_does_not_move_the_next_page(client, services) -> None:
    # The same report without ``ended``: the viewer may still be watching, so nothing is re-ranked.
    await seed_catalogue(creators=30, clips_per_creator=10, tags=AWAY, services=services)
    _, second, twin_second = await _pair(client, services, "beat", "heartbeat")
    assert second["served_by"] == twin_second["served_by"] == "buffer"


async def test_not_interested_events_bring_fewer_of_that_hashtag_on_the_very_next_page(client, services) -> None:
    await seed_catalogue(creators=30, clips_per_creator=10, tags=AWAY, services=services)
    acted, alone = await _counts(client, services, "not_interested")
    assert acted + PAIRS <= alone, (acted, alone)
