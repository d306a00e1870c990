"""A PostgreSQL server restarted (fast shutdown, as supervisord stops the cluster's) while work
runs (``clipfeed.infra.db.restarts``, ``clipfeed.http.restarts``): transactions that start while
it is down wait for it and then succeed, each done once; a write whose connection broke
mid-way answers 503 and is never run again; a read that broke mid-way is run again; a server
that stays down past the wait fails requests at once again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from clipfeed.bootstrap import configure_breakers
from clipfeed.http import problems
from clipfeed.http.restarts import RunReadsAgain
from clipfeed.infra.db import Database
from clipfeed.infra.db.engine import watch_of
from clipfeed.settings import Settings
from tests.services import ThrowawayPostgres

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayPostgres]:
    made = ThrowawayPostgres(Path(tmp_path_factory.mktemp("restarted-pg")))
    made.start()
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture
async def db(server: ThrowawayPostgres) -> AsyncIterator[Database]:
    configure_breakers(Settings(_env_file=None))  # as a serving process: breakers open 10 s
    made = Database(server.url, pool_size=4, restart_wait_s=15)
    async with made.session() as session:
        await session.execute(sa.text("DROP TABLE IF EXISTS marks"))
        await session.execute(sa.text("CREATE TABLE marks (tag text NOT NULL)"))  # no key: a repeat shows
    yield made
    await made.close()


async def _stopped(server: ThrowawayPostgres) -> None:
    await asyncio.to_thread(server.stop)


async def _started(server: ThrowawayPostgres) -> None:
    await asyncio.to_thread(server.start)


async def _marks(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(sa.text("SELECT tag FROM marks ORDER BY tag"))).all())


async def test_writes_and_reads_started_while_the_server_restarts_wait_and_are_done_once(
        server: ThrowawayPostgres, db: Database) -> None:
    async def write(tag: str) -> None:
        async with db.session() as session:
            await session.execute(sa.text("INSERT INTO marks VALUES (:tag)"), {"tag": tag})

    async def read() -> int:
        async with db.read_session() as session:
            return int(await session.scalar(sa.text("SELECT count(*) FROM marks")))

    await write("before")
    await _stopped(server)
    # Started while nothing listens: each one's first connect is refused, and the breaker
    # opens after a few of them; none may fail for it.
    tasks = [asyncio.create_task(write(f"during {n:02}")) for n in range(20)]
    tasks += [asyncio.create_task(read()) for _ in range(10)]
    await asyncio.sleep(1.5)
    assert not any(task.done() for task in tasks), "a transaction gave up while the server restarted"
    assert db.restarting()  # /readyz keeps the process in: its requests wait
    await _started(server)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    assert await _marks(db) == ["before", *(f"during {n:02}" for n in range(20))]
    assert not db.restarting()


async def test_a_server_down_past_the_wait_fails_requests_at_once_again(server: ThrowawayPostgres) -> None:
    configure_breakers(Settings(_env_file=None))
    db = Database(server.url, pool_size=2, restart_wait_s=1.0)
    try:
        async with db.session() as session:
            await session.execute(sa.text("SELECT 1"))
        await _stopped(server)
        with pytest.raises(OperationalError):  # waited its second, then gave up
            async with db.session() as session:
                await session.execute(sa.text("SELECT 1"))
        await asyncio.sleep(1.0)
        assert not db.restarting()  # an outage now, not a restart
        watch = watch_of(db.engine)
        assert watch is not None and watch.refusing_since is not None
        waits = _waits()
        with pytest.raises(OperationalError):  # at once: no transaction waits any more
            async with db.session() as session:
                await session.execute(sa.text("SELECT 1"))
        assert _waits() == waits
    finally:
        await _started(server)
        await db.close()


def _waits() -> float:
    return REGISTRY.get_sample_value("clipfeed_db_restart_waits_total") or 0.0


# --- over HTTP: what is run again, and what is not ---------------------------------------

def _app(db: Database, runs: dict[str, int], sleeping: asyncio.Event) -> FastAPI:
    """Routes shaped like ours (a transaction per request, the 503 handlers, the middleware
    that runs reads again) over the restarted server; ``runs`` counts how often each ran."""
    app = FastAPI()
    problems.install(app)
    app.add_middleware(RunReadsAgain, wait_s=15)

    async def slow(route: str, *, insert: bool) -> dict[str, int]:
        runs[route] = runs.get(route, 0) + 1
        async with db.session() as session:
            if insert:
                await session.execute(sa.text("INSERT INTO marks VALUES (:tag)"), {"tag": route})
            count = int(await session.scalar(sa.text("SELECT count(*) FROM marks")))
            if runs[route] == 1:
                sleeping.set()
                await session.execute(sa.text("SELECT pg_sleep(30)"))  # the server stops meanwhile
        return {"count": count}

    @app.get("/read")
    async def read() -> dict[str, int]:
        return await slow("read", insert=False)

    @app.get("/read-that-writes")
    async def read_that_writes() -> dict[str, int]:
        return await slow("read-that-writes", insert=True)

    @app.post("/write")
    async def write() -> dict[str, int]:
        return await slow("write", insert=True)

    return app


async def _sleeping_on_server(server: ThrowawayPostgres) -> None:
    """Until the route's pg_sleep runs on the server (so the stop finds it mid-statement)."""
    for _ in range(200):
        with psycopg.connect(server.url, autocommit=True) as conn:
            if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"
                            ).fetchone() == (1,):
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the route's statement never reached the server")


@pytest.mark.parametrize(("method", "path", "run_again"), [
    ("GET", "/read", True),
    ("GET", "/read-that-writes", False),
    ("POST", "/write", False),
])
async def test_a_request_broken_mid_transaction_is_run_again_only_if_it_wrote_nothing(
        server: ThrowawayPostgres, db: Database, method: str, path: str, run_again: bool) -> None:
    runs: dict[str, int] = {}
    sleeping = asyncio.Event()
    transport = httpx.ASGITransport(app=_app(db, runs, sleeping))
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
        answer = asyncio.create_task(client.request(method, path))
        await sleeping.wait()
        await _sleeping_on_server(server)
        await _stopped(server)
        await asyncio.sleep(0.5)
        await _started(server)
        response = await answer
    route = path.strip("/")
    if run_again:
        # The read lost its connection to the shutdown, was run again, waited for the server
        # and answered: the client saw one answer, a success.
        assert response.status_code == 200, response.text
        assert runs[route] == 2
    else:
        # Something was written before the connection broke: the outcome is the client's call.
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        assert response.json()["type"].endswith("/unavailable")
        assert runs[route] == 1
    # The broken transaction was rolled back with its connection; nothing was done twice.
    assert await _marks(db) == []
