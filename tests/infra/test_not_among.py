"""``not_among``: ``NOT IN`` a list of any length as one bound value, on both engines."""

from __future__ import annotations

import sqlalchemy as sa

from clipfeed.accounts.models import User
from clipfeed.infra.db import not_among
from tests.helpers import signup
from tests.social.support import largest_statement


async def test_a_list_of_forty_thousand_ids_is_one_parameter_and_leaves_out_exactly_those(client, services) -> None:
    kept, dropped = await signup(client, "kept"), await signup(client, "dropped")
    listed = {dropped.id, *range(1, 40_000)}
    with largest_statement(services) as counts:
        async with services.db.session() as session:
            found = set((await session.scalars(sa.select(User.id).where(
                User.id.in_([kept.id, dropped.id]), not_among(session, User.id, listed)))).all())
            everyone = set((await session.scalars(sa.select(User.id).where(
                User.id.in_([kept.id, dropped.id]), not_among(session, User.id, [])))).all())
    assert found == {kept.id} and everyone == {kept.id, dropped.id}
    assert max(counts) < 10, counts  # the two IDs wanted, the list, and no more
