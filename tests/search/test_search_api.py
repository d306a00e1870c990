"""``GET /v1/search`` on both stacks: what it finds, how it pages, and what it never shows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from clipfeed.clips.models import Clip
from clipfeed.infra.search import CreatorDocument, open_search_index
from clipfeed.search import service
from tests.helpers import assert_problem, signup
from tests.search.support import add_clip, add_creator, clip_ids, reindex


async def test_search_finds_words_typos_prefixes_tags_handles_and_phrases(client, services) -> None:
    chef = await add_creator("pasta_queen", "Maria Rossi", services=services)
    other = await add_creator("skate_daily", "Skate Daily", services=services)
    pasta = await add_clip(chef, "Fresh homemade pasta with basil #cooking #italianfood", services=services)
    skate = await add_clip(other, "Kickflip down the big stairs #skateboarding", services=services)
    await add_clip(other, "basil grows fast in the garden #gardening", services=services)

    async def found(q: str, **params: str) -> list[int]:
        response = await client.get("/v1/search", params={"q": q, **params})
        assert response.status_code == 200, response.text
        return clip_ids(response.json())

    assert (await found("pasta"))[0] == pasta.id
    assert (await found("homemdae pasta"))[0] == pasta.id           # transposed letters
    assert (await found("kickflp"))[0] == skate.id                   # a letter missing
    assert (await found("skateboa"))[0] == skate.id                  # the word being typed
    assert await found("#cooking") == [pasta.id]
    assert await found("@pasta_queen") == [pasta.id]
    assert await found('"homemade pasta"') == [pasta.id]
    assert await found('"pasta homemade"') == []                      # a phrase keeps its order
    body = (await client.get("/v1/search", params={"q": "pasta"})).json()
    assert body["creators"][0]["handle"] == "pasta_queen"
    tags = (await client.get("/v1/search", params={"q": "italia", "type": "hashtags"})).json()["hashtags"]
    assert tags[0] == {"tag": "italianfood", "clip_count": 1, "score": tags[0]["score"]}


async def test_filters_narrow_by_duration_language_and_date(client, services) -> None:
    fr = await add_creator("chef_paris", language="fr", services=services)
    en = await add_creator("chef_london", language="en", services=services)
    short = await add_clip(fr, "recette de crêpes #crepes", duration_ms=10_000, services=services)
    long = await add_clip(en, "crepes the easy way #crepes", duration_ms=90_000, age=timedelta(days=30),
                          services=services)
    both = {short.id, long.id}

    async def found(**params: str) -> set[int]:
        response = await client.get("/v1/search", params={"q": "crepes", **params})
        assert response.status_code == 200, response.text
        return set(clip_ids(response.json()))

    assert await found() == both
    assert await found(max_duration_ms="30000") == {short.id}
    assert await found(min_duration_ms="30000") == {long.id}
    assert await found(language="fr") == {short.id}
    assert await found(published_after="2000-01-01T00:00:00Z", published_before="2099-01-01T00:00:00Z") == both
    assert await found(published_after="2000-01-01T00:00:00", published_before="2099-01-01") == both  # no zone: UTC
    assert await found(published_after=(datetime.now(UTC) - timedelta(days=7)).isoformat()) == {short.id}
    assert_problem(await client.get("/v1/search", params={"q": "crepes", "published_after": "2030-01-01T00:00:00Z",
                                                          "published_before": "2020-01-01T00:00:00Z"}), 422)
    assert_problem(await client.get("/v1/search", params={"q": "crepes", "min_duration_ms": "5000",
                                                          "max_duration_ms": "10"}), 422)


async def test_pages_follow_the_cursor_without_repeats(client, services) -> None:
    creator = await add_creator("loop_maker", services=services)
    made = {(await add_clip(creator, f"sunset timelapse number {n} #sunset", services=services)).id for n in range(7)}
    seen: list[int] = []
    cursor = None
    for _ in range(4):
        params = {"q": "sunset", "type": "clips", "limit": "3", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/search", params=params)).json()
        seen += clip_ids(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    assert_problem(await client.get("/v1/search", params={"q": "sunset", "cursor": "not-a-cursor"}), 422)
    assert_problem(await client.get("/v1/search", params={"q": "   "}), 422)
    assert_problem(await client.get("/v1/search", params={"q": "x" * 201}), 422)


async def test_hidden_clips_never_appear(client, services) -> None:
    viewer = await signup(client, "curious_viewer")
    author = await signup(client, "blocked_author")
    blocker = await signup(client, "blocking_author")
    owner = await add_creator("volcano_fan", services=services)
    suspended = await add_creator("suspended_fan", services=services)
    visible = await add_clip(owner, "volcano eruption at night", services=services)
    hidden = [await add_clip(owner, "volcano eruption private", visibility="private", services=services),
              await add_clip(owner, "volcano eruption unlisted", visibility="unlisted", services=services),
              await add_clip(owner, "volcano eruption held", status="review", services=services),
              await add_clip(owner, "volcano eruption rejected", status="rejected", services=services),
              await add_clip(owner, "volcano eruption deleted", status="deleted", services=services),
              await add_clip(owner, "volcano eruption processing", status="processing", services=services)]
    by_blocked = await add_clip(author.id, "volcano eruption from the blocked author", services=services)
    by_blocker = await add_clip(blocker.id, "volcano eruption from the one who blocks", services=services)
    by_suspended = await add_clip(suspended, "volcano eruption suspended creator", services=services)
    stale = await add_clip(owner, "volcano eruption gone private later", services=services)
    assert (await client.put(f"/v1/users/{author.id}/block", headers=viewer.auth)).status_code == 200
    assert (await client.put(f"/v1/users/{viewer.id}/block", headers=blocker.auth)).status_code == 200
    async with services.db.session() as session:
        # The index trails the rows by the indexer's lag: search must check the row anyway.
        await session.execute(sa.update(Clip).where(Clip.id == stale.id).values(visibility="private"))
        await session.execute(sa.text("UPDATE users SET suspended_at = CURRENT_TIMESTAMP WHERE id = :id"),
                              {"id": suspended.id})

    as_viewer = clip_ids((await client.get("/v1/search", params={"q": "volcano eruption", "limit": "50"},
                                           headers=viewer.auth)).json())
    assert as_viewer == [visible.id]
    anonymous = clip_ids((await client.get("/v1/search", params={"q": "volcano", "limit": "50"})).json())
    assert set(anonymous) == {visible.id, by_blocked.id, by_blocker.id}
    assert not {c.id for c in hidden} & set(anonymous)
    assert by_suspended.id not in anonymous and stale.id not in anonymous
    creators = (await client.get("/v1/search", params={"q": "blocked_author", "type": "creators"},
                                 headers=viewer.auth)).json()["creators"]
    assert all(c["handle"] != "blocked_author" for c in creators)


async def test_a_repeated_query_still_checks_what_each_viewer_may_see(client, services) -> None:
    """The second and later searches of a query reuse its text ranking (kept per index
    version): what became hidden since, without any write to the index, must still be hidden,
    per viewer; and a clip indexed since shows at once."""
    viewer = await signup(client, "repeat_viewer")
    other = await signup(client, "repeat_author")
    owner = await add_creator("lava_lamp_fan", services=services)
    first = await add_clip(owner, "lava lamp at dusk", services=services)
    later_private = await add_clip(owner, "lava lamp in the attic", services=services)
    by_other = await add_clip(other.id, "lava lamp bubbles", services=services)

    async def found(headers: dict[str, str] | None = None) -> set[int]:
        body = (await client.get("/v1/search", params={"q": "lava lamp"}, headers=headers or {})).json()
        return set(clip_ids(body))

    assert await found(viewer.auth) == {first.id, later_private.id, by_other.id}
    async with services.db.session() as session:  # the row only: the index does not know yet
        await session.execute(sa.update(Clip).where(Clip.id == later_private.id).values(visibility="private"))
    assert await found(viewer.auth) == {first.id, by_other.id}
    assert (await client.put(f"/v1/users/{other.id}/block", headers=viewer.auth)).status_code == 200
    assert await found(viewer.auth) == {first.id}
    assert await found() == {first.id, by_other.id}  # anonymous: only the private clip is gone
    added = await add_clip(owner, "lava lamp, a new one", services=services)
    assert await found() == {first.id, by_other.id, added.id}


async def test_searches_past_the_process_limit_wait_their_turn_and_all_get_answers(client, services,
                                                                                    monkeypatch) -> None:
    """``search_concurrency``: more searches than that at once queue instead of interleaving."""
    monkeypatch.setattr(services.settings, "search_concurrency", 1)
    creator = await add_creator("harbour_watch", services=services)
    clip = await add_clip(creator, "boats in the harbour at dawn", services=services)
    running = most = 0
    page = service._search_page

    async def watched(**kwargs):  # type: ignore[no-untyped-def]
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            return await page(**kwargs)
        finally:
            running -= 1

    monkeypatch.setattr(service, "_search_page", watched)
    answers = await asyncio.gather(*(client.get("/v1/search", params={"q": q}) for q in ["harbour", "boats"] * 3))
    assert [clip_ids(a.json()) for a in answers] == [[clip.id]] * 6
    assert most == 1


async def test_reindex_rebuilds_from_the_tables(client, services) -> None:
    creator = await add_creator("glacier_guide", services=services)
    clip = await add_clip(creator, "glacier hike in iceland", index=False, services=services)
    assert clip_ids((await client.get("/v1/search", params={"q": "glacier"})).json()) == []
    assert await reindex(services=services) == 1
    assert clip_ids((await client.get("/v1/search", params={"q": "glacier"})).json()) == [clip.id]


ODD_QUERIES = ["²", "_", "a_b", '"', '""', "#", "@", "#@", "ⅷ x", "٣", "🙂 cat", "x" * 200, "%_\\", "NEAR(a b)",
               "a OR b", "*", "-cat", "'; drop table clips; --", "ab", "#a_b", "@x", '"one', "ǅemal", "İstanbul"]


async def test_odd_queries_are_answered_or_refused_never_failed(client, services) -> None:
    creator = await add_creator("odd_one", services=services)
    await add_clip(creator, "a_b ² ⅷ ٣ İstanbul 🙂 cat %_\\ 100%", services=services)
    for q in ODD_QUERIES:
        for path, params in (("/v1/search", {"q": q}), ("/v1/search/suggest", {"q": q[:100]})):
            response = await client.get(path, params=params)
            if response.status_code != 200:
                assert_problem(response, 422)


async def test_a_creator_named_by_a_word_is_found_however_many_share_a_piece_of_it(services) -> None:
    """Creators are found by whole word and by prefix before pieces of words, on both engines:
    the trigram pool (the newest 1,000 creators sharing a piece) once left out an older
    creator whose handle is the word itself."""
    index = open_search_index(services.db)
    await index.put_creators([CreatorDocument(1, "kalimba_kate", "Kate", 0)])
    await index.put_creators([CreatorDocument(100 + n, f"nokal{n}", "", 0) for n in range(1_050)])
    found = [c.handle for c in await index.creator_candidates(["kalimba"], limit=10)]
    assert found[0] == "kalimba_kate"
    typed = [c.handle for c in await index.creator_candidates(["kalim"], limit=10)]
    assert typed[0] == "kalimba_kate"  # a prefix of a word, as one types it
