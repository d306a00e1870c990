"""``GET /v1/search/suggest``: handles, hashtags and popular queries by prefix, typo-tolerant
from the fourth letter, never a query below the count floor or with a blocked word."""

from __future__ import annotations

from clipfeed.search import querylog
from clipfeed.search.service import logged
from tests.helpers import assert_problem
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
