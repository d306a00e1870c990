"""The creator studio and the moderation console used as people use them: Playwright driving
Debian's Chromium against the journeys' real server (conftest.py), with a creator, a moderator
and a viewer seeded beside the shared clips. Screenshots (390×844 first, then 1440×900) land in
tests/web/artifacts/studio/."""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import ARTIFACTS, WebStack, run_journeys, seen

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
CREATOR = {"handle": "studio_sam", "password": PASSWORD}
MODERATOR = {"handle": "mod_mona", "password": PASSWORD}
VIEWER = {"handle": "rita_reports", "password": PASSWORD}
NOTE = "Links to a shop selling followers in every clip"


async def _seed(stack: WebStack) -> dict[str, Any]:
    """Sam's clips (published through the quick ladder, one fingerprinted as screening would,
    one rejected by screening with quality flags), a week of his analytics as the batch jobs
    write them, Mona the moderator, and Rita who reports one of his clips."""
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import Role
    from clipfeed.analytics import service as analytics
    from clipfeed.bootstrap import bootstrap
    from clipfeed.clips import service as clips
    from clipfeed.clips.models import ClipCreate, ClipStatus, ClipUpdate
    from clipfeed.media import features, phash
    from clipfeed.media.probe import probe
    from clipfeed.settings import Settings
    from tests.delivery import ladder

    assert stack.data_dir is not None
    services = await bootstrap(Settings(data_dir=stack.data_dir, log_json=False, inprocess_workers="none",
                                        public_url=stack.url))
    try:
        made = {}
        for role, who in ((Role.user, CREATOR), (Role.moderator, MODERATOR), (Role.user, VIEWER)):
            user = await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                              settings=services.settings, email=f"{who['handle']}@example.com", **who)
            if role is not Role.user:
                await accounts.set_role(db=services.db, cache=services.cache, handle=who["handle"], role=role)
            made[who["handle"]] = user
        sam = made[CREATOR["handle"]]
        clip_ids: dict[str, int] = {}
        for name, caption in (("remove", "An old take"), ("reported", "Get 10k followers today"),
                              ("edit", "Harbour at dawn #sea")):
            clip = await ladder.publish(owner_id=sam.id, services=services)
            await clips.update(db=services.db, outbox=services.outbox, clip_id=clip.id, user_id=sam.id,
                               request=ClipUpdate(caption=caption))
            clip_ids[name] = clip.id
        source = ladder.ladder() / "mp4" / "fallback.mp4"
        with tempfile.TemporaryDirectory() as work:
            hashes = await phash.fingerprint(source, probe=await probe(source), workdir=Path(work))
        await features.save_screening(db=services.db, clip_id=clip_ids["reported"], flags={},
                                      fingerprint=phash.pack(hashes))
        black = await clips.create_draft(db=services.db, outbox=services.outbox, ids=services.ids, owner_id=sam.id,
                                         request=ClipCreate(caption="Lens cap on"))
        await clips.set_status(db=services.db, outbox=services.outbox, clip_id=black.id, status=ClipStatus.rejected,
                               reason="the picture is black from start to end",
                               media={"quality": {"flags": ["black", "silent"]}})
        clip_ids["rejected"] = black.id
        today = datetime.now(UTC).date()
        days = [today - timedelta(days=n) for n in range(6, -1, -1)]
        edit = clip_ids["edit"]
        await analytics.replace_days(
            db=services.db, from_day=days[0], to_day=today,
            daily=[{"clip_id": edit, "day": d, "creator_id": sam.id, "impressions": 20 + i, "plays": 10 + i,
                    "views": 8 + i, "completes": 3, "skips": 2, "watch_ms": (10 + i) * 2500, "likes": 1,
                    "shares": 0, "comments": 0} for i, d in enumerate(days)],
            breakdown=[{"clip_id": edit, "day": today, "dimension": dim, "value": value, "creator_id": sam.id,
                        "plays": plays, "viewers": plays}
                       for dim, value, plays in (("source", "foryou", 12), ("source", "share", 4),
                                                 ("region", "eu-west", 10), ("region", "us-east", 6))],
            dropoff=[{"clip_id": edit, "day": today, "second": s, "plays": n} for s, n in ((0, 2), (2, 3), (4, 11))],
            followers=[{"creator_id": sam.id, "day": today, "added": 3, "removed": 1}])
        await services.outbox.flush()
    finally:
        await services.close()
    return {"ids": {k: str(v) for k, v in clip_ids.items()}, "sam": sam.id}


def _report(url: str, clip_id: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as client:
        login = client.post("/v1/auth/login", json={"login": VIEWER["handle"], "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {login['access_token']}"}
        reported = client.post("/v1/reports", headers=auth, json={"kind": "clip", "id": clip_id, "category": "spam",
                                                                   "note": NOTE})
        assert reported.status_code == 202, reported.text
        return str(reported.json()["case_id"])


def _in_feed(url: str, clip_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        page = httpx.get(f"{url}/v1/feed", params={"limit": 50}, headers={"X-Device-ID": f"studio{tries:04d}"},
                         timeout=10).json()
        if any(item["clip"]["id"] == clip_id for item in page.get("items", [])):
            return
        time.sleep(0.5)
    raise TimeoutError(f"clip {clip_id} never reached the feed")


@pytest.fixture(scope="module")
def world(web_stack: WebStack) -> dict[str, Any]:
    seeded = asyncio.run(_seed(web_stack))
    _in_feed(web_stack.url, seeded["ids"]["reported"])
    seeded["case"] = _report(web_stack.url, seeded["ids"]["reported"])
    return seeded


@pytest.fixture(scope="module")
def journeys(web_stack: WebStack, world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    setup = {"url": web_stack.url, "creator": CREATOR, "moderator": MODERATOR, "viewer": VIEWER,
             "clips": {**world["ids"], "others": web_stack.clip_ids[0]}, "caseId": world["case"]}
    return run_journeys("studio_journeys.mjs", setup, "studio")


def test_a_creator_sees_every_clip_with_its_state_figures_and_quality_flags(journeys, world) -> None:
    result = seen(journeys, "studio_clips")
    rows = {row["id"]: row for row in result["rows"]}
    ids = world["ids"]
    assert set(rows) == set(ids.values())  # Sam's clips only, the feed's seeded ones are not his
    assert rows[ids["edit"]]["badge"] == "Published" and rows[ids["edit"]]["avgWatch"].endswith(" s")
    rejected = rows[ids["rejected"]]
    assert rejected["badge"] == "Not published"
    assert rejected["reason"] == "Why: the picture is black from start to end"
    assert rejected["flags"] == ["Black picture", "Silent"]
    assert all(row["views"] is not None and row["likes"] is not None for row in rows.values())


def test_a_creator_edits_a_caption_and_deletes_a_clip_after_confirming(journeys, world, web_stack) -> None:
    result = seen(journeys, "studio_clips")
    assert not result["editorViolations"], result["editorViolations"]
    assert result["caption"] == "Harbour at dawn, edited in the studio #sea"
    assert result["keptAfterCancel"] == 1
    ids = world["ids"]
    clip = httpx.get(f"{web_stack.url}/v1/clips/{ids['edit']}", timeout=10).json()
    assert clip["caption"] == result["caption"] and clip["hashtags"] == ["sea"]
    settings = httpx.get(f"{web_stack.url}/v1/clips/{ids['edit']}/comment-settings", timeout=10).json()
    assert settings["comments"] == "followers"
    assert httpx.get(f"{web_stack.url}/v1/clips/{ids['remove']}", timeout=10).status_code == 404


def test_the_analytics_page_draws_its_charts_for_the_channel_and_a_clip(journeys) -> None:
    result = seen(journeys, "studio_analytics")
    channel, clip = result["channel"], result["clip"]
    assert channel["totals"]["views"] == str(sum(8 + i for i in range(7)))  # 77, as seeded
    assert channel["totals"]["followers"] == "3"
    for name in ("views", "watch", "followers", "sources", "regions"):
        assert channel["charts"][name]["svg"] and channel["charts"][name]["label"], name
    assert "77 in total" in channel["charts"]["views"]["label"]
    assert channel["charts"]["sources"]["rows"] == [["For You", "12", "75.0 %"], ["Shared link", "4", "25.0 %"]]
    assert [r[0] for r in channel["charts"]["regions"]["rows"]] == ["eu-west", "us-east"]
    assert "retention" not in channel["charts"]
    retention = clip["charts"]["retention"]
    assert retention["svg"] and retention["rows"][0] == ["0 s", "100.0 %"]
    assert "followers" not in clip["charts"]
    assert result["week"]["period"] != clip["period"]
    assert result["other"] == "only the creator sees a clip's analytics"


def test_a_moderator_rejects_a_reported_clip_and_it_leaves_the_feed_and_suspends_an_account(
        journeys, world, web_stack) -> None:
    result = seen(journeys, "moderator_rejects")
    assert any(NOTE in text and "@rita_reports" in text for text in result["reports"]), result["reports"]
    assert result["asked"] == "Write a reason first: the creator will see it."
    assert (result["listedBefore"], result["rejectStatus"], result["queueAfter"]) == (1, 200, 0)  # listed, then gone
    assert any("Spam: sells followers" in text and "@mod_mona" in text for text in result["blocklist"])
    assert ["@mod_mona", "rejected", world["case"], "Spam: sells followers"] in [row[1:] for row in result["audit"]]
    assert result["inFeed"] is False
    assert result["suspended"] == "@rita_reports is suspended."
    assert result["reinstated"] == "@rita_reports can sign in again."
    assert ["@mod_mona", "rejected", "Mass reporting"] in [[r[1], r[2], r[4]] for r in result["audit"]]
    assert ["@mod_mona", "approved", "Appeal accepted"] in [[r[1], r[2], r[4]] for r in result["audit"]]
    reported = world["ids"]["reported"]
    assert httpx.get(f"{web_stack.url}/v1/clips/{reported}", timeout=10).status_code == 404
    with httpx.Client(base_url=web_stack.url, timeout=10) as client:
        login = client.post("/v1/auth/login", json={"login": CREATOR["handle"], "password": PASSWORD}).json()
        mine = client.get("/v1/creators/me/clips", headers={"Authorization": f"Bearer {login['access_token']}"}).json()
    shown = {item["id"]: item for item in mine["items"]}[reported]
    assert shown["status"] == "rejected" and shown["status_reason"] == "removed after review: Spam: sells followers"


def test_someone_who_is_not_a_moderator_gets_no_console_and_403_from_its_api(journeys) -> None:
    result = seen(journeys, "not_a_moderator")
    assert result["denied"] == "Only moderators can open the moderation console."
    assert result["tabs"] == 0 and result["uiRequests"] == 0
    assert len(result["api"]) == 8
    for route, answer in result["api"].items():
        assert answer == {"status": 403, "type": "application/problem+json"}, route


def test_studio_and_console_screenshots_at_phone_then_desktop_size(journeys) -> None:
    names = {path.name for path in (ARTIFACTS / "studio").glob("*.png")}
    assert {"studio-390x844.png", "studio-1440x900.png", "analytics-390x844.png", "analytics-1440x900.png",
            "mod-queue-390x844.png", "mod-queue-1440x900.png", "mod-denied-390x844.png"} <= names
