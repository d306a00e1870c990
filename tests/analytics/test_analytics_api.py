"""Creator analytics: only the creator reads them; periods are checked (figures are tested with
the lake jobs in ``tests/lake/test_lake.py``)."""

from __future__ import annotations

from tests.helpers import assert_problem
from tests.stream.pipeline import make_clip


async def test_only_the_creator_reads_their_analytics(client, services) -> None:
    from tests.helpers import signup

    dave, eve = await signup(client, "dave"), await signup(client, "eve")
    public = await make_clip(client, services, dave, "public")
    private = await make_clip(client, services, dave, "private", visibility="private")
    assert_problem(await client.get("/v1/creators/me/analytics"), 401)
    assert_problem(await client.get(f"/v1/creators/me/analytics/clips/{public}", headers=eve.auth), 403)
    assert_problem(await client.get(f"/v1/creators/me/analytics/clips/{private}", headers=eve.auth), 404)
    own = await client.get(f"/v1/creators/me/analytics/clips/{private}", headers=dave.auth)
    assert own.status_code == 200 and own.json()["totals"]["plays"] == 0 and len(own.json()["daily"]) == 28
    assert_problem(await client.get("/v1/creators/me/analytics", headers=dave.auth,
                                    params={"from": "2026-01-10", "to": "2026-01-01"}), 422)
    assert_problem(await client.get("/v1/creators/me/analytics", headers=dave.auth,
                                    params={"from": "2020-01-01", "to": "2026-01-01"}), 422)


async def test_analytics_periods_are_iso_days_in_order_and_inside_the_calendar(client, services) -> None:
    from tests.helpers import signup

    dave = await signup(client, "dave")

    async def period(**params: str) -> tuple[str, str, int] | int:
        answer = await client.get("/v1/creators/me/analytics", headers=dave.auth, params=params)
        if answer.status_code != 200:
            assert_problem(answer, answer.status_code)
            return answer.status_code
        body = answer.json()
        return body["from"], body["to"], len(body["daily"])

    # Only YYYY-MM-DD: pydantic alone read 0 as 1970-01-01 (seconds since the epoch).
    for text in ("0", "1700000000", "2026-1-5", "2026-02-30", "20260105", "2026-01-05T00:00:00", "0000-01-01"):
        assert await period(to=text) == 422, text
    # One end given: 28 days from or to it, held inside years 1..9999 (the day after
    # 9999-12-31 used to be a 500).
    assert await period(**{"from": "2026-01-01"}) == ("2026-01-01", "2026-01-28", 28)
    assert await period(to="2026-01-28") == ("2026-01-01", "2026-01-28", 28)
    assert await period(**{"from": "9999-12-30"}) == ("9999-12-30", "9999-12-31", 2)
    assert await period(to="0001-01-02") == ("0001-01-01", "0001-01-02", 2)
    # Both ends: in order, at most 366 days, both included.
    assert await period(**{"from": "2024-01-01", "to": "2024-12-31"}) == ("2024-01-01", "2024-12-31", 366)
    assert await period(**{"from": "2024-01-01", "to": "2025-01-01"}) == 422
    assert await period(**{"from": "2026-01-02", "to": "2026-01-01"}) == 422
    assert await period(**{"from": "2026-01-01", "to": "2026-01-01"}) == ("2026-01-01", "2026-01-01", 1)
