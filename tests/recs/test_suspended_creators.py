"""A suspended creator's clips leave every feed (and come back when the account does)."""

from __future__ import annotations

from clipfeed.accounts import service as accounts
from clipfeed.recs.worker import processors_running
from clipfeed.stream.catchup import wait_for_catch_up
from tests.helpers import signup
from tests.recs.conftest import seed_catalogue


async def _feed_creators(client, viewer) -> set[str]:
    answer = await client.get("/v1/feed", params={"limit": 40}, headers=viewer.auth)
    assert answer.status_code == 200, answer.text
    return {item["clip"]["owner_id"] for item in answer.json()["items"]}


async def test_a_suspended_creators_clips_leave_the_feed(client, services) -> None:
    clips = await seed_catalogue(creators=2, clips_per_creator=6, tags=["cats", "dogs"], services=services)
    owners = sorted({c.owner_id for c in clips.values()})
    suspended = owners[0]
    before = await _feed_creators(client, await signup(client, "first_viewer"))
    assert str(suspended) in before  # the feed did list them
    async with processors_running(services=services):
        await accounts.set_suspended(db=services.db, cache=services.cache, outbox=services.outbox,
                                     user_id=suspended, suspended=True, reason="test")
        await services.outbox.flush()
        await wait_for_catch_up(services=services, groups=[("recs-indexer", "users")], timeout=60)
        after = await _feed_creators(client, await signup(client, "second_viewer"))
        assert str(suspended) not in after and str(owners[1]) in after
        await accounts.set_suspended(db=services.db, cache=services.cache, outbox=services.outbox,
                                     user_id=suspended, suspended=False, reason="appeal upheld")
        await services.outbox.flush()
        await wait_for_catch_up(services=services, groups=[("recs-indexer", "users")], timeout=60)
        # Back in the catalogue: a viewer whose feed is built now sees them again.
        assert str(suspended) in await _feed_creators(client, await signup(client, "third_viewer"))
