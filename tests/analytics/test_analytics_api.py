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
