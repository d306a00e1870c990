"""Seeing less in the web app, used as people use it: "Not interested" and its Undo, hiding a
creator from For You, and showing them again from Settings (tests/js/dismiss_journey.mjs on the
shared server of conftest.py; its account is its own, so the other journeys' viewers still see
every clip). Phone-size screenshots land in tests/web/artifacts/dismiss/."""

from __future__ import annotations

import pytest

from tests.web.conftest import WebStack, run_journeys, seen

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def journey(web_stack: WebStack) -> dict[str, object]:
    journeys = run_journeys("dismiss_journey.mjs", {"url": web_stack.url, "clips": web_stack.clip_ids,
                                                     "creator": web_stack.creator}, "dismiss")
    return seen(journeys, "see_less")


def test_a_clip_marked_not_interested_leaves_the_queue_and_undo_brings_it_back(journey) -> None:
    assert journey["markStatus"] == 200
    assert journey["dismissed"] not in journey["afterMark"]["queued"]
    assert journey["afterMark"]["active"] != journey["dismissed"]
    assert journey["undoStatus"] == 200 and journey["afterUndo"] == journey["dismissed"]


def test_a_hidden_creators_clips_leave_the_queue_and_settings_lists_them_until_shown_again(journey) -> None:
    # Every clip of the shared server is @maker's: the whole queue goes. (That For You's later
    # pages leave them out is tests/recs/test_dismissals.py's: this viewer has seen them all.)
    assert journey["queuedBeforeHide"] >= 2 and journey["queuedAfterHide"] == 0
    assert journey["hideStatus"] == 200
    [listed] = journey["listed"]
    assert "@maker" in listed and "until" in listed
    assert journey["showStatus"] == 200  # and the list, read again from the server, is empty
