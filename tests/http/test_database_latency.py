"""PostgreSQL 200 ms away (100 ms each way, through a TCP proxy that delays every chunk): the
API is slower but answers everything, with nothing lost. Latency is not an outage: the
database's breaker stays closed, and no request runs into a pool or statement timeout while
forty readers and a stream of writes share the pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from clipfeed.infra.breaker import BREAKERS
from clipfeed.social.models import Comment, Like
from tests.helpers import serving, signup
from tests.social.support import ready_clip
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(300)
ONE_WAY_S = 0.1


@pytest.fixture
async def far_client(migrated_postgres_url: str, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    from clipfeed.settings import Settings

    parts = urlsplit(migrated_postgres_url)
    proxy = await TcpProxy(parts.port or 5432).start()
    proxy.delay_s = ONE_WAY_S
    far = migrated_postgres_url.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{proxy.port}")
    try:
        async with serving(Settings(data_dir=tmp_path, log_json=False, database_url=far), timeout=60) as client:
            yield client
    finally:
        await proxy.close()


async def test_a_distant_database_slows_requests_but_every_one_succeeds_and_nothing_is_lost(far_client) -> None:
    services = far_client.services  # type: ignore[attr-defined]
    creator = await signup(far_client, "farcreator")
    fans = await asyncio.gather(*(signup(far_client, f"farfan{n}") for n in range(8)))
    clip = await ready_clip(far_client, services, creator, caption="far away")

    async def engage(n: int) -> list[int]:
        fan = fans[n % len(fans)]
        statuses = [(await far_client.put(f"/v1/clips/{clip}/like", headers=fan.auth)).status_code,
                    (await far_client.post(f"/v1/clips/{clip}/comments", headers=fan.auth,
                                           json={"body": f"from afar {n}"})).status_code]
        return statuses

    async def read(n: int) -> int:
        paths = ["/v1/feed?limit=5", f"/v1/clips/{clip}", "/v1/users/farcreator", f"/v1/clips/{clip}/comments"]
        return (await far_client.get(paths[n % len(paths)], headers={"X-Device-ID": f"far-{n}"})).status_code

    written, reads = await asyncio.gather(asyncio.gather(*(engage(n) for n in range(8))),
                                          asyncio.gather(*(read(n) for n in range(40))))
    assert all(status in (200, 201) for pair in written for status in pair), written
    assert all(status == 200 for status in reads), reads
    assert (await far_client.get("/readyz")).status_code == 200

    async with services.db.session() as session:
        likes = await session.scalar(sa.select(sa.func.count()).select_from(Like).where(Like.clip_id == int(clip)))
        bodies = (await session.scalars(sa.select(Comment.body).where(Comment.clip_id == int(clip)))).all()
    assert likes == len(fans)
    assert sorted(bodies) == sorted(f"from afar {n}" for n in range(8))
    assert not [b.endpoint for b in BREAKERS.not_closed() if b.engine == "postgresql"]
