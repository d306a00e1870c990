"""Read replicas of shard databases, with real PostgreSQL streaming replication: two shard
databases on a primary of their own (``pg_basebackup``, as ``clipfeed cluster`` makes them),
each read through its own database on the replica; the main database is elsewhere. Comment
lists, which live on the clip's shard, are read from that shard's replica; their writer reads
a new comment back at once; with the shard's primary cut off (behind a proxy that stops
answering) comment pages are served from the replica, marked stale, while writes answer 503;
and a virtual shard moved to the other database is read from neither replica before it may."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.helpers import assert_problem, serving, signup, wait_for
from tests.infra.replica_checks import reads, ready_clip, stale
from tests.services import StreamingPair
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(300)
SHARDS = ("clipfeed_shard_a", "clipfeed_shard_b")


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    """The shard databases' primary and its replica."""
    from clipfeed.infra.db.migrate import upgrade

    # Not pytest's tmp_path: the servers run as an unprivileged user, who must reach the folder.
    with StreamingPair(Path(tempfile.mkdtemp(prefix="clipfeed-shard-replicas-"))) as servers:
        with psycopg.connect(f"{servers.primary_url}/postgres", autocommit=True) as conn:
            for name in SHARDS:
                conn.execute(f"CREATE DATABASE {name}")
        for name in SHARDS:
            upgrade(f"{servers.primary_url}/{name}")
        yield servers


@pytest.fixture(scope="module")
def main_url(postgres_copies) -> Iterator[str]:
    with postgres_copies.database() as url:
        yield url


async def _client(pair: StreamingPair, main_url: str, tmp_path: Path, *, max_lag_s: float,
                  primary_port: int | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An API over the shard databases (through ``primary_port``, a proxy's, when given) and
    their replicas. No workers run inside: nothing but the test's own requests touches the
    shards, so the API's shard map is what the test makes it."""
    from clipfeed.settings import Settings

    primary = pair.primary_url if primary_port is None else f"postgresql://postgres@127.0.0.1:{primary_port}"
    settings = Settings(data_dir=tmp_path, log_json=False, database_url=main_url, inprocess_workers="none",
                        database_shard_urls=[f"{primary}/{name}" for name in SHARDS],
                        database_shard_replica_urls=[[f"{pair.replica_url}/{name}"] for name in SHARDS],
                        database_replica_max_lag_s=max_lag_s)
    async with serving(settings, timeout=30) as client:
        yield client


@pytest.fixture
async def patient(pair: StreamingPair, main_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An API whose shard replicas may be up to 30 s behind."""
    async for client in _client(pair, main_url, tmp_path, max_lag_s=30):
        yield client


def shard_of(client: httpx.AsyncClient, clip_id: int) -> int:
    return client.services.db.shard_index(clip_id)  # type: ignore[attr-defined]


async def clip_on(client: httpx.AsyncClient, owner_id: int, shard: int) -> int:
    """A ready clip whose comments live on shard database ``shard``."""
    while (clip := await ready_clip(client, owner_id)) and shard_of(client, clip) != shard:
        pass
    return clip


def comments_on_replica(pair: StreamingPair, shard: int, clip_id: int) -> int:
    with psycopg.connect(f"{pair.replica_url}/{SHARDS[shard]}", autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM comments WHERE clip_id = %s", (clip_id,)).fetchone()
    return int(row[0]) if row else 0


async def replica_holds(pair: StreamingPair, shard: int, clip_id: int, count: int) -> None:
    async def there() -> bool:
        return comments_on_replica(pair, shard, clip_id) == count
    await wait_for(there, 30)


async def bodies(client: httpx.AsyncClient, clip_id: int, headers: dict[str, str] | None = None) -> list[str]:
    response = await client.get(f"/v1/clips/{clip_id}/comments?sort=new", headers=headers or {})
    assert response.status_code == 200, response.text
    return sorted(c["body"] for c in response.json()["items"])


async def comment(client: httpx.AsyncClient, clip_id: int, body: str, auth: dict[str, str]) -> dict:
    said = await client.post(f"/v1/clips/{clip_id}/comments", json={"body": body}, headers=auth)
    assert said.status_code == 201, said.text
    return dict(said.json())


async def reading_the_replica(client: httpx.AsyncClient, clip_id: int) -> None:
    """Until an anonymous comment list is served by the shard's replica (a new API measures its
    lag first)."""
    database = f"shard{shard_of(client, clip_id)}"

    async def served() -> bool:
        before = reads("replica", "replica", database)
        await bodies(client, clip_id)
        return reads("replica", "replica", database) > before
    await wait_for(served, 15)


async def test_others_read_comments_from_the_shards_replica_while_the_writer_reads_its_own_at_once(
        pair, patient) -> None:
    pair.set_apply_delay(0)
    creator, writer, other = [await signup(patient, f"sr{name}") for name in ("creator", "writer", "other")]
    clip = await ready_clip(patient, creator.id)
    shard = shard_of(patient, clip)
    await comment(patient, clip, "first", creator.auth)
    await replica_holds(pair, shard, clip, 1)
    await reading_the_replica(patient, clip)
    pair.set_apply_delay(5)  # from here on the replica shows each commit 5 s late
    served, waited = reads("replica", "replica", f"shard{shard}"), reads("primary", "writer_ahead", f"shard{shard}")

    await comment(patient, clip, "second", writer.auth)
    # the writer sees its comment at once: the shard's write position is the caller's...
    assert await bodies(patient, clip, writer.auth) == ["first", "second"]
    assert reads("primary", "writer_ahead", f"shard{shard}") > waited
    # ...while another signed-in reader and an anonymous one are served by the shard's replica,
    # which has not replayed it yet
    assert await bodies(patient, clip, other.auth) == ["first"]
    assert await bodies(patient, clip) == ["first"]
    assert reads("replica", "replica", f"shard{shard}") >= served + 2
    # and once it has, they see it too
    async def caught_up() -> bool:
        return await bodies(patient, clip) == ["first", "second"]
    await wait_for(caught_up, 15)
    pair.set_apply_delay(0)


async def test_with_the_shards_primary_cut_off_comment_pages_are_served_stale_and_writes_fail(
        pair, main_url, tmp_path) -> None:
    pair.set_apply_delay(0)
    link = await TcpProxy(pair.primary_port).start()  # the API's way to the shards; the replica streams directly
    try:
        async for client in _client(pair, main_url, tmp_path, max_lag_s=0.5, primary_port=link.port):
            await _comment_pages_through_a_cut(pair, client, link)
    finally:
        await link.close()


async def _comment_pages_through_a_cut(pair: StreamingPair, client: httpx.AsyncClient, link: TcpProxy) -> None:
    creator, viewer = await signup(client, "srcutcreator"), await signup(client, "srcutviewer")
    clip = await ready_clip(client, creator.id)
    shard = shard_of(client, clip)
    top = await comment(client, clip, "before the cut", creator.auth)
    reply = await client.post(f"/v1/clips/{clip}/comments", headers=viewer.auth,
                              json={"body": "a reply", "parent_id": top["id"]})
    assert reply.status_code == 201, reply.text
    await replica_holds(pair, shard, clip, 2)
    await reading_the_replica(client, clip)

    link.mode = "blackhole"  # packets vanish, as on a cut link between regions
    link.cut()

    # (a caller whose own recent write the replica may lack waits on the primary, and may get a
    # 503, until it counts as unreachable: docs/operate/replicas.md)
    async def served_stale() -> bool:
        pages = [await client.get(f"/v1/clips/{clip}/comments", headers=who) for who in ({}, viewer.auth)]
        return all(page.status_code == 200 and "clipfeed-stale" in page.headers for page in pages)
    await wait_for(served_stale, 20)
    # the main database answers: the clip, the viewer's token and blocks are read there; the
    # comments come from the shard's replica, however far behind, and say so
    listed = stale(await client.get(f"/v1/clips/{clip}/comments", headers=viewer.auth))
    assert [c["body"] for c in listed.json()["items"]] == ["before the cut"]
    replies = stale(await client.get(f"/v1/clips/{clip}/comments/{top['id']}/replies"))
    assert [c["body"] for c in replies.json()["items"]] == ["a reply"]
    assert reads("replica", "primary_down", f"shard{shard}") > 0
    # a write needs the shard's primary: it fails, clearly
    failed = await client.post(f"/v1/clips/{clip}/comments", json={"body": "lost"}, headers=viewer.auth)
    assert_problem(failed, 503)


async def test_a_moved_shard_is_read_from_a_replica_only_where_its_rows_are(pair, main_url, patient) -> None:
    import clipfeed.schema  # noqa: F401 - the sharded tables, for the move
    from clipfeed.infra.db import Database, moves

    pair.set_apply_delay(0)
    creator = await signup(patient, "srmover")
    clip = await ready_clip(patient, creator.id)
    db = patient.services.db  # type: ignore[attr-defined]
    source, vshard = db.shard_index(clip), db.router.shard_of(clip)
    target = 1 - source
    for body in ("one", "two", "three"):
        await comment(patient, clip, body, creator.auth)
    await replica_holds(pair, source, clip, 3)
    await reading_the_replica(patient, clip)
    # the target's replica serves its own shards' reads already
    elsewhere = await clip_on(patient, creator.id, target)
    await comment(patient, elsewhere, "elsewhere", creator.auth)
    await replica_holds(pair, target, elsewhere, 1)
    await reading_the_replica(patient, elsewhere)

    # The virtual shard moves while the replica replays each commit 10 s late: its copy at the
    # target is on the target's primary only, for now.
    pair.set_apply_delay(10)
    mover = Database(main_url, shard_urls=[f"{pair.primary_url}/{name}" for name in SHARDS], virtual_shards=1024)
    try:
        await moves.move(mover, vshard, target)
    finally:
        await mover.close()
    assert comments_on_replica(pair, target, clip) == 0
    # An API that reads the map now sends the clip's reads to the target, whose replica must not
    # serve them until it has replayed the rows' arrival: it would show no comments at all
    arriving = reads("primary", "arriving", f"shard{target}")
    await db.load_shard_map()
    assert db.shard_index(clip) == target
    assert await bodies(patient, clip) == ["one", "three", "two"]
    assert reads("primary", "arriving", f"shard{target}") > arriving

    # Once the replica has replayed everything, it serves the shard at the target...
    pair.set_apply_delay(0)
    await replica_holds(pair, target, clip, 3)
    await replica_holds(pair, source, clip, 0)
    await reading_the_replica(patient, clip)
    # ...and an API still holding the old map (a process that missed the move) finds the shard
    # fenced on the source's replica, whose rows are deleted: it reads the map again and the rows
    # at the target, instead of an empty list
    db.router.assign({vshard: source})
    moved = reads("primary", "moved", f"shard{source}")
    assert await bodies(patient, clip) == ["one", "three", "two"]
    assert reads("primary", "moved", f"shard{source}") > moved
    assert db.shard_index(clip) == target
