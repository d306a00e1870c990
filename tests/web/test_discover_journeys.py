"""Search and discovery in the web app, used as people use it: Playwright driving Debian's
Chromium (tests/js/discover_journeys.mjs) against the real server of conftest.py, whose clips
carry the captions of ``CAPTIONS``. Phone-size screenshots land in tests/web/artifacts/discover/."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import ARTIFACTS, CAPTIONS, WebStack, run_journeys, seen

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def journeys(web_stack: WebStack) -> dict[str, dict[str, object]]:
    return run_journeys("discover_journeys.mjs", {"url": web_stack.url, "clips": web_stack.clip_ids}, "discover")



def captioned(web_stack: WebStack, word: str) -> set[str]:
    return {clip for n, clip in enumerate(web_stack.clip_ids) if word in CAPTIONS[n % len(CAPTIONS)]}


def test_a_misspelled_handle_is_suggested_and_opens_the_creators_profile(journeys) -> None:
    result = seen(journeys, "misspelled_handle")
    assert any(option.startswith("@maker") for option in result["options"]), result["options"]
    assert result["path"] == "/@maker" and result["heading"] == "maker"
    assert len(result["asked"]) < len("makre")  # debounced: not one request per keystroke


def test_a_searched_hashtag_is_followed_from_its_page_and_its_clips_fill_the_tags_feed(journeys, web_stack) -> None:
    result = seen(journeys, "follow_hashtag")
    assert result["grid"] == 2  # both #kickflip clips on its page
    assert result["followStatus"] == 200 and result["pressed"] == "true"
    assert {clip["clip"] for clip in result["feed"]} == captioned(web_stack, "#kickflip")


def test_a_muted_word_keeps_its_clip_out_of_the_feed(journeys, web_stack) -> None:
    result = seen(journeys, "muted_word")
    assert result["addStatus"] == 201 and "spoiler" in result["muted"]
    spoiler = captioned(web_stack, "spoiler")
    assert len(spoiler) == 1
    # the clip is in everyone else's feed...
    anonymous = httpx.get(f"{web_stack.url}/v1/feed", params={"limit": 20}, headers={"X-Device-ID": "discover-check"},
                          timeout=10).json()
    assert spoiler <= {item["clip"]["id"] for item in anonymous["items"]}
    # ...and not in the feed of the viewer who muted its word, who still gets all the others
    shown = {clip["clip"] for clip in result["feed"]}
    assert shown == set(web_stack.clip_ids) - spoiler, result["feed"]
    assert not any("spoiler" in clip["text"].lower() for clip in result["feed"])


def test_discover_shows_trending_hashtags_with_their_clips(journeys) -> None:
    result = seen(journeys, "discover")
    tags = {entry["tag"]: entry["clips"] for entry in result["tags"]}
    assert tags.get("kickflip") == 2 and tags.get("sunset") == 2 and "cooking" in tags, tags
    assert result["creators"] == 1 and result["opened"] == "/tags/sunset"


def test_phone_screenshots_of_search_hashtag_discover_and_muted_words(journeys) -> None:
    names = {path.name for path in (ARTIFACTS / "discover").glob("*.png")}
    assert {"search-suggestions-390x844.png", "search-results-390x844.png", "hashtag-page-390x844.png",
            "tags-feed-390x844.png", "settings-muted-words-390x844.png", "discover-390x844.png"} <= names, names
