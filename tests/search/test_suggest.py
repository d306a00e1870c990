"""``GET /v1/search/suggest``: handles, hashtags and popular queries by prefix, typo-tolerant
from the fourth letter, never a query below the count floor or with a blocked word."""

from __future__ import annotations

from clipfeed.infra.search import open_search_index
from clipfeed.search import querylog
from clipfeed.search.indexing import refresh_creators
from clipfeed.search.service import logged
from tests.helpers import assert_problem, signup
from tests.search.support import add_clip, add_creator


async def _suggest(client, q: str) -> list[tuple[str, str, int]]:
    response = await client.get("/v1/search/suggest", params={"q": q})
    assert response.status_code == 200, response.text
    return [(s["kind"], s["text"], s["count"]) for s in response.json()["items"]]


async def test_suggestions_complete_handles_tags_and_popular_queries(client, services) -> None:
    baker = await add_creator("sourdough_sam", "Sam Bakes", services=services)
    for n in range(3):
        await add_clip(baker, f"sourdough loaf {n} #sourdough #baking", services=services)
    await add_clip(baker, "a pan of brownies #soulfood", services=services)

    assert ("handle", "@sourdough_sam", 4) in await _suggest(client, "sou")
    assert ("hashtag", "#sourdough", 3) in await _suggest(client, "sou")
    assert (await _suggest(client, "#sour"))[0] == ("hashtag", "#sourdough", 3)  # #soulfood: a typo away
    assert await _suggest(client, "@sour") == [("handle", "@sourdough_sam", 4)]
    assert ("hashtag", "#sourdough", 3) in await _suggest(client, "suordo")  # a typo after 3 letters
    assert all(t != "#sourdough" for _, t, _ in await _suggest(client, "sui"))  # none before

    for _ in range(3):
        assert (await client.get("/v1/search", params={"q": "Sourdough starter"})).status_code == 200
    await client.get("/v1/search", params={"q": "sourdough secret recipe"})  # searched once: private
    await logged()  # the log is written off the request path
    queries = [t for k, t, _ in await _suggest(client, "sourdough s") if k == "query"]
    assert queries == ["sourdough starter"]
    await querylog.block(db=services.db, word="Starter")
    assert [t for k, t, _ in await _suggest(client, "sourdough s") if k == "query"] == []
    assert_problem(await client.get("/v1/search/suggest", params={"q": ""}), 422)


async def test_short_typos_sharing_no_trigram_are_found(client, services) -> None:
    """``maler`` shares no three-letter piece with ``maker`` (one edit), nor ``gabdem`` with
    ``garden`` (two): the deletion neighbourhood finds them, in suggest and in search."""
    import sqlalchemy as sa

    from tests.search.support import clip_ids

    jo = await add_creator("maker_jo", "Jo", services=services)
    zed = await add_creator("maker_zed", "Zed", services=services)
    lamp = await add_clip(jo, "a lamp from scrap wood #maker", services=services)
    await add_clip(zed, "a shelf from pallets #maker", services=services)
    await add_clip(jo, "tomatoes on the balcony #garden", services=services)
    async with services.db.session() as session:
        await session.execute(sa.text("UPDATE users SET suspended_at = CURRENT_TIMESTAMP WHERE id = :id"),
                              {"id": zed.id})

    found = await _suggest(client, "maler")
    assert ("hashtag", "#maker", 2) in found and ("handle", "@maker_jo", 2) in found
    assert all(t != "@maker_zed" for _, t, _ in found)  # suspended: never suggested
    assert ("hashtag", "#garden", 1) in await _suggest(client, "gabdem")  # two edits from six letters
    assert all(t != "#maker" for _, t, _ in await _suggest(client, "mzlzr"))  # three: too far
    assert all(t != "#maker" for _, t, _ in await _suggest(client, "mke"))  # three letters: prefixes only

    body = (await client.get("/v1/search", params={"q": "maler"})).json()
    assert lamp.id in clip_ids(body)
    assert [h["handle"] for h in body["creators"]] == ["maker_jo"]
    assert body["hashtags"][0]["tag"] == "maker"


async def test_creators_blocked_either_way_are_not_suggested(client, services) -> None:
    """A signed-in viewer is never offered a creator they block or who blocks them; others
    still see both (the blocks are checked with the creators' state, in one statement)."""
    viewer = await signup(client, "gardening_viewer")
    blocked = await signup(client, "gardener_blocked")
    blocker = await signup(client, "gardener_blocking")
    shown = await add_creator("gardener_shown", services=services)
    for owner in (blocked.id, blocker.id, shown.id):
        await add_clip(owner, "raised beds in spring #gardening", services=services)
    await refresh_creators(db=services.db, index=open_search_index(services.db), user_ids=[blocked.id, blocker.id])
    assert (await client.put(f"/v1/users/{blocked.id}/block", headers=viewer.auth)).status_code == 200
    assert (await client.put(f"/v1/users/{viewer.id}/block", headers=blocker.auth)).status_code == 200

    response = await client.get("/v1/search/suggest", params={"q": "@garden"}, headers=viewer.auth)
    assert response.status_code == 200, response.text
    assert [s["text"] for s in response.json()["items"]] == ["@gardener_shown"]
    everyone = {t for _, t, _ in await _suggest(client, "@garden")}
    assert {"@gardener_blocked", "@gardener_blocking", "@gardener_shown"} <= everyone
