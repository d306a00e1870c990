"""The web app used as people use it: Playwright driving Debian's Chromium against one real
server with real clips (see conftest.py); each test asserts on what one journey saw. Screenshots
at 390×844 and 1440×900 land in tests/web/artifacts/watch/."""

from __future__ import annotations

import pytest

from tests.web.conftest import ARTIFACTS, WebStack, run_journeys, seen

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def journeys(web_stack: WebStack) -> dict[str, dict[str, object]]:
    return run_journeys("journeys.mjs", {"url": web_stack.url, "clips": web_stack.clip_ids,
                                         "creator": web_stack.creator}, "watch")



def test_anonymous_viewer_scrolls_five_clips_and_each_plays(journeys, web_stack) -> None:
    result = seen(journeys, "anonymous_scroll")
    clips = result["clips"]
    assert len({c["clip"] for c in clips}) == 5, clips  # the arrow key, j, the wheel and a swipe each moved on
    assert all(c["videoWidth"] > 0 and c["currentTime"] > 0.2 for c in clips), clips
    assert set(web_stack.clip_ids) >= {c["clip"] for c in clips}


def test_the_next_clip_waits_buffered_the_one_after_is_prefetched_and_not_the_third(journeys) -> None:
    prefetched = seen(journeys, "anonymous_scroll")["prefetched"]
    assert prefetched == {"nextTwo": True, "thirdAhead": False, "nextWaiting": True}


def test_playback_events_reach_the_server_in_batches_with_unique_ids(journeys) -> None:
    events = seen(journeys, "anonymous_scroll")["events"]
    assert {"impression", "play_start", "skip"} <= set(events["types"]), events
    assert events["ids"] == events["count"]
    assert set(events["statuses"]) == {200}
    assert events["accepted"] == events["count"] and not events["rejected"], events
    assert len(events["statuses"]) < events["count"]  # batched, not one request per event


def test_a_share_link_opens_the_app_on_that_clip(journeys) -> None:
    result = seen(journeys, "share_link")
    assert result["first"] == result["wanted"]


def test_register_like_comment_reply_follow_then_following_plays_and_the_creator_sees_the_badge_live(journeys) -> None:
    result = seen(journeys, "engage_and_live_badge")
    assert any("mail" in text.lower() for text in result["fieldErrors"]), result["fieldErrors"]
    assert result["optimistic"] == {"pressed": True, "count": result["before"] + 1}  # before the server answered
    assert result["likeStatus"] == 200 and result["liked"] is True  # then confirmed by the server
    assert result["rolledBack"] == 1  # a refused unlike put the like back
    assert result["followStatus"] == 200 and result["following"] == 1
    assert result["followingOwner"] == "Clip by @maker" and result["followingClip"]["videoWidth"] > 0
    assert int(result["badgeText"]) > result["badgeBefore"]
    assert result["notReloaded"] is True  # the badge came over the live stream
    # The open list took the new comment in at its top, live, and says when in words.
    live = result["liveList"]
    assert live["notReloaded"] is True and "one more while you read" in live["first"]
    assert live["when"].strip() == "now"
    assert any(result["handle"] in text for text in result["inbox"]), result["inbox"]
    assert result["shareStatus"] == 201 and result["shares"].split()[-1] == "1"  # sent to the creator, counted
    assert result["boostStatus"] == 201  # a boost: an Announce to the viewer's followers' servers
    assert result["sharesAfterBoost"].split()[-1] == "2"
    assert result["likedList"] == 1  # the viewer's own "Liked" list
    assert result["preferenceStatus"] == 200 and result["shareNotifications"] is False
    assert "Pinned" in result["pinnedFirst"] and "First one here" in result["pinnedFirst"]  # the creator pinned it


def test_desktop_centres_the_clip_with_the_engagement_column_beside_it(journeys) -> None:
    result = seen(journeys, "pages")
    layout = result["layout"]
    assert layout["stageRight"] <= layout["railLeft"]  # the column is beside the clip, not over it
    middle = (layout["stageLeft"] + layout["stageRight"]) / 2
    assert abs(middle - layout["width"] / 2) < layout["width"] * 0.1


def test_profile_settings_language_and_a_missing_page(journeys, web_stack) -> None:
    result = seen(journeys, "pages")
    assert result["gridItems"] == len(web_stack.clip_ids)
    assert any("@viewer" in text for text in result["followers"]), result["followers"]
    assert result["french"] == "Réglages"
    assert result["missing"] == "This page does not exist."


def test_blocking_hides_the_creators_clips_report_edit_profile_and_delete_account(journeys) -> None:
    result = seen(journeys, "block_report_account")
    assert result["clipsAfterBlock"] == 0  # every seeded clip is the blocked creator's
    assert result["reportStatus"] == 202
    assert result["bio"] == "I watch clips."
    assert result["wrongPassword"]  # shown beside the password field
    assert result["gone"] == 404


def test_keyboard_only_use(journeys) -> None:
    result = seen(journeys, "keyboard_only")
    assert result["sound"] is True and result["paused"] is True
    assert result["reachedLike"], result["names"]
    assert all(result["names"]), result["names"]  # every stop on the way has a name
    assert result["focusInDialog"] is True and result["moved"]


def test_a_slow_network_makes_hls_pick_a_lower_rendition(journeys) -> None:
    result = seen(journeys, "throttled_network")
    assert result["fast"] >= 360 and result["slow"] == 240


def test_the_installed_shell_opens_offline(journeys) -> None:
    result = seen(journeys, "offline_shell")
    assert result["manifest"] == {"name": "Clipfeed", "icons": 3, "display": "standalone"}
    assert result["tabs"] == 1 and "No connection" in result["banner"]


def test_screenshots_are_saved_at_phone_and_desktop_sizes(journeys) -> None:
    names = {path.name for path in (ARTIFACTS / "watch").glob("*.png")}
    for page in ("feed", "comments", "notifications", "profile"):
        assert any(name.startswith(page) for name in names), names
    assert {"feed-390x844.png", "feed-1440x900.png"} <= names
