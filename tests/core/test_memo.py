"""The bounded, expiring in-process map behind playback hints and recent clip cards."""

from __future__ import annotations

import time

from clipfeed.core.memo import TtlLru


def test_entries_expire_and_the_least_recently_used_go_first_when_full() -> None:
    memo: TtlLru[str, int | None] = TtlLru(size=2, ttl=0.2)
    memo.put("a", 1)
    memo.put("b", None)  # a remembered "nothing" is a hit too
    assert memo.get("a") == (True, 1) and memo.get("b") == (True, None)
    memo.put("a", 2)  # refreshed: now the most recent
    memo.put("c", 3)  # over the size: "b" goes
    assert memo.get("b") == (False, None) and memo.get("a") == (True, 2) and len(memo) == 2
    time.sleep(0.25)
    assert memo.get("a") == (False, None) and memo.get("c") == (False, None)
