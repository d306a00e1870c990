"""Read replicas with a real PostgreSQL streaming replica (``pg_basebackup`` of a primary, both
from the machine's packages): pages that tolerate staleness read the replica, a client always
reads its own writes, a replica too far behind or down is passed over, reads outside a
request (workers) stay on the primary, and with the primary cut off (behind a proxy that stops
answering) signed-in pages are served from the replica, blocks included. The replica's lag is made with
``recovery_min_apply_delay``, so "behind" is real and of a known size."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from tests.helpers import assert_problem, serving, signup, wait_for
from tests.infra.replica_checks import reads, ready_clip, stale
from tests.services import StreamingPair
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    from clipfeed.infra.db.migrate import upgrade

    # Not pytest's tmp_path: the servers run as an unprivileged user, who must reach the folder.
    with StreamingPair(Path(tempfile.mkdtemp(prefix="clipfeed-replicas-"))) as servers:
        with psycopg.connect(f"{servers.primary_url}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE clipfeed")
        upgrade(f"{servers.primary_url}/clipfeed")
        yield servers


async def _client(pair: StreamingPair, tmp_path: Path, *, max_lag_s: float, primary_port: int | None = None,
                  **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    """``primary_port``: where the app reaches the primary (a proxy's), the replica streaming
    from it directly."""
    from clipfeed.settings import Settings

    primary = pair.primary_url if primary_port is None else f"postgresql://postgres@127.0.0.1:{primary_port}"
    async with serving(Settings(data_dir=tmp_path, log_json=False, database_url=f"{primary}/clipfeed",
                                database_replica_urls=[f"{pair.replica_url}/clipfeed"],
                                database_replica_max_lag_s=max_lag_s, **settings), timeout=20) as client:
        yield client


@pytest.fixture
async def patient(pair: StreamingPair, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An API whose replica may be up to 30 s behind."""
    async for client in _client(pair, tmp_path, max_lag_s=30):
        yield client


@pytest.fixture
async def strict(pair: StreamingPair, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An API that reads a replica only when it is less than half a second behind."""
    async for client in _client(pair, tmp_path, max_lag_s=0.5):
        yield client


def on_replica(pair: StreamingPair, query: str, *args: object) -> object:
    with psycopg.connect(f"{pair.replica_url}/clipfeed", autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
    return row[0] if row else None


async def replayed(pair: StreamingPair, handle: str, timeout: float = 30) -> None:
    async def there() -> bool:
        return on_replica(pair, "SELECT 1 FROM users WHERE handle = %s", handle) == 1
    await wait_for(there, timeout)


async def reading_the_replica(client: httpx.AsyncClient, handle: str) -> None:
    """Until an anonymous profile read is served by the replica (a new API measures its lag first)."""
    async def served() -> bool:
        before = reads("replica", "replica")
        await display_name(client, handle)
        return reads("replica", "replica") > before
    await wait_for(served, 10)


async def display_name(client: httpx.AsyncClient, handle: str, headers: dict[str, str] | None = None) -> str:
    response = await client.get(f"/v1/users/{handle}", headers=headers or {})
    assert response.status_code == 200, response.text
    return str(response.json()["display_name"])


async def test_others_read_the_replica_while_a_writer_reads_its_own_writes(pair, patient) -> None:
    pair.set_apply_delay(0)
    alice, bob = await signup(patient, "ralice"), await signup(patient, "rbob")
    await replayed(pair, "rbob")
    await reading_the_replica(patient, "ralice")
    before = await display_name(patient, "ralice")
    # From here on the replica shows each commit 10 s late: the checks below that others still
    # read the old state must all run within that window, and on a loaded machine (the suite's
    # other worker, a neighbour) 3 s was once not enough.
    pair.set_apply_delay(10)
    served_before = reads("replica", "replica")

    changed = await patient.patch("/v1/me", json={"display_name": "Alice Renamed"}, headers=alice.auth)
    assert changed.status_code == 200, changed.text
    followed = await patient.put(f"/v1/users/{bob.id}/follow", headers=alice.auth)
    assert followed.status_code in (200, 201, 204), followed.text

    # the writer sees both at once, whoever else reads what...
    assert await display_name(patient, "ralice", alice.auth) == "Alice Renamed"
    following = (await patient.get("/v1/users/ralice/following", headers=alice.auth)).json()
    assert [entry["user"]["handle"] for entry in following["items"]] == ["rbob"]
    # ...while another signed-in reader and an anonymous one are served by the replica, which has
    # not replayed the change yet: they see the profile as it was
    assert await display_name(patient, "ralice", bob.auth) == before
    assert await display_name(patient, "ralice") == before
    assert (await patient.get("/v1/users/ralice/following")).json()["items"] == []
    assert reads("replica", "replica") >= served_before + 3
    # and once it has, they see the change too
    async def caught_up() -> bool:
        return await display_name(patient, "ralice", bob.auth) == "Alice Renamed"
    await wait_for(caught_up, 25)

    async def list_caught_up() -> bool:
        items = (await patient.get("/v1/users/ralice/following")).json()["items"]
        return [e["user"]["handle"] for e in items] == ["rbob"]
    await wait_for(list_caught_up, 5)


async def test_a_replica_further_behind_than_allowed_is_passed_over(pair, strict) -> None:
    pair.set_apply_delay(0)
    carol = await signup(strict, "rcarol")
    await replayed(pair, "rcarol")
    await reading_the_replica(strict, "rcarol")
    pair.set_apply_delay(6)
    await strict.patch("/v1/me", json={"display_name": "Carol Renamed"}, headers=carol.auth)
    # Within two lag checks the replica is measured more than 0.5 s behind (it replays 6 s
    # late), and the new name, which only the primary has, is what everyone reads
    async def passed_over() -> bool:
        return await display_name(strict, "rcarol") == "Carol Renamed"
    await wait_for(passed_over, 4)
    assert on_replica(pair, "SELECT display_name FROM users WHERE handle = %s", "rcarol") != "Carol Renamed"


async def test_reads_outside_a_request_and_writes_never_touch_the_replica(pair, patient) -> None:
    pair.set_apply_delay(5)
    dave = await signup(patient, "rdave")  # written and read back at once: the primary
    from clipfeed.accounts.models import User

    services = patient.services  # type: ignore[attr-defined]
    async with services.db.read_session() as session:  # a worker's read: no request, the primary
        assert await session.scalar(sa.select(User.handle).where(User.id == dave.id)) == "rdave"
    assert on_replica(pair, "SELECT 1 FROM users WHERE handle = %s", "rdave") is None
    assert (await patient.get("/v1/me", headers=dave.auth)).status_code == 200
    pair.set_apply_delay(0)


async def test_with_the_replica_down_every_read_is_served_by_the_primary(pair, tmp_path) -> None:
    pair.set_apply_delay(0)
    async for client in _client(pair, tmp_path, max_lag_s=30):
        erin = await signup(client, "rerin")
        await replayed(pair, "rerin")
        await client.patch("/v1/me", json={"display_name": "Erin"}, headers=erin.auth)
        pair.stop("replica")
        try:
            for _ in range(20):  # the first fail over at once; the lag check then marks the replica down
                assert await display_name(client, "rerin") == "Erin"
                await asyncio.sleep(0.05)
            assert reads("primary", "down") + reads("primary", "no_replica") > 0
        finally:
            pair.start("replica")


def revoke_on_primary(pair: StreamingPair, user_id: int) -> None:
    """Every token of the user revoked straight on the primary, as another process (a moderator's
    console, a sign-out elsewhere) would: no write position of this caller is recorded."""
    with psycopg.connect(f"{pair.primary_url}/clipfeed", autocommit=True) as conn:
        conn.execute("UPDATE auth_tokens SET revoked_at = now() WHERE user_id = %s", (user_id,))


async def test_the_token_check_reads_the_replica_on_reads_and_the_primary_on_writes(pair, patient) -> None:
    pair.set_apply_delay(0)
    frank = await signup(patient, "rfrank")
    await replayed(pair, "rfrank")
    await reading_the_replica(patient, "rfrank")
    pair.set_apply_delay(20)  # the replica now shows each commit 20 s late (within the 30 s bound)
    revoke_on_primary(pair, frank.id)

    # The primary refuses the token; the replica has not replayed that yet. A page that tolerates
    # staleness is answered: its token check read the replica, within the documented bound...
    page = await patient.get("/v1/users/rfrank/clips", headers=frank.auth)
    assert page.status_code == 200, page.text
    # ...while a write checks the token on the primary, and is refused
    assert_problem(await patient.patch("/v1/me", json={"display_name": "Frank"}, headers=frank.auth), 401)
    # and so is every route that does not tolerate staleness
    assert_problem(await patient.get("/v1/me", headers=frank.auth), 401)
    # Once the replica has replayed the revocation, the read is refused too
    pair.set_apply_delay(0)

    async def refused() -> bool:
        return (await patient.get("/v1/users/rfrank/clips", headers=frank.auth)).status_code == 401
    await wait_for(refused, 30)


async def test_a_signed_out_session_is_refused_at_once_even_on_pages_a_replica_serves(pair, patient) -> None:
    pair.set_apply_delay(0)
    gina = await signup(patient, "rgina")
    await replayed(pair, "rgina")
    await reading_the_replica(patient, "rgina")
    pair.set_apply_delay(20)
    assert (await patient.get("/v1/users/rgina/clips", headers=gina.auth)).status_code == 200
    assert (await patient.post("/v1/auth/logout", headers=gina.auth)).status_code == 204
    # The sign-out was this caller's write: its reads wait for a replica that has it, or read the
    # primary, so the token is refused at once although the replica is 20 s behind
    assert_problem(await patient.get("/v1/users/rgina/clips", headers=gina.auth), 401)
    assert on_replica(pair, "SELECT count(*) FROM auth_tokens WHERE user_id = %s AND revoked_at IS NOT NULL",
                      gina.id) == 0
    pair.set_apply_delay(0)


async def test_the_token_check_takes_no_replica_further_behind_than_its_own_bound(pair, tmp_path) -> None:
    pair.set_apply_delay(0)
    async for client in _client(pair, tmp_path, max_lag_s=30, database_replica_access_max_stale_s=1):
        hugo = await signup(client, "rhugo")
        await replayed(pair, "rhugo")
        await reading_the_replica(client, "rhugo")
        pair.set_apply_delay(6)
        revoke_on_primary(pair, hugo.id)
        # a commit the replica has not replayed makes it measurably behind
        await client.patch("/v1/me", json={"display_name": "Hugo"}, headers=(await signup(client, "rhugo2")).auth)

        # Within a few lag checks the replica is more than 1 s behind: the token check passes it
        # over and reads the primary, which refuses the token, while anonymous pages still read
        # the replica (30 s bound)
        async def refused(client: httpx.AsyncClient = client, auth: dict[str, str] = hugo.auth) -> bool:
            return (await client.get("/v1/users/rhugo/clips", headers=auth)).status_code == 401
        await wait_for(refused, 5)
        before = reads("replica", "replica")
        await display_name(client, "rhugo")
        assert reads("replica", "replica") > before
        pair.set_apply_delay(0)


async def test_with_the_primary_cut_off_signed_in_clip_pages_and_comments_are_served_stale_blocks_still_hiding(
        pair, tmp_path) -> None:
    pair.set_apply_delay(0)
    link = await TcpProxy(pair.primary_port).start()  # the app's way to the primary; the replica streams directly
    try:
        async for client in _client(pair, tmp_path, max_lag_s=0.5, primary_port=link.port):
            await _signed_in_pages_through_a_cut(pair, client, link)
    finally:
        await link.close()


async def _signed_in_pages_through_a_cut(pair: StreamingPair, client: httpx.AsyncClient, link: TcpProxy) -> None:
    creator, viewer, troll, friend, shunner = [
        await signup(client, f"rcut{name}") for name in ("creator", "viewer", "troll", "friend", "shunner")]
    clip, shunned = await ready_clip(client, creator.id), await ready_clip(client, shunner.id)
    for who in (troll, friend):
        said = await client.post(f"/v1/clips/{clip}/comments", json={"body": f"from {who.handle}"},
                                 headers=who.auth)
        assert said.status_code == 201, said.text
    # blocks made before the cut: the viewer blocks the troll; the shunner blocks the viewer
    for blocker, blocked in ((viewer, troll), (shunner, viewer)):
        made = await client.put(f"/v1/users/{blocked.id}/block", headers=blocker.auth)
        assert made.status_code == 200, made.text

    async def replica_has_both() -> bool:
        return on_replica(pair, "SELECT count(*) FROM blocks WHERE blocker_id IN (%s, %s)",
                          viewer.id, shunner.id) == 2
    await wait_for(replica_has_both, 30)
    await reading_the_replica(client, "rcutcreator")

    link.mode = "blackhole"  # packets vanish, as on a cut link between regions
    link.cut()

    async def clip_page_served() -> bool:
        page = await client.get(f"/v1/clips/{clip}", headers=viewer.auth)
        return page.status_code == 200 and "clipfeed-stale" in page.headers
    await wait_for(clip_page_served, 20)
    assert stale(await client.get(f"/v1/clips/{clip}", headers=viewer.auth)).json()["id"] == str(clip)
    # the signed-in comment list answers too, and the block read from the replica still hides
    # the troll's comment from the viewer, while an anonymous reader sees both
    listed = stale(await client.get(f"/v1/clips/{clip}/comments", headers=viewer.auth))
    assert [c["body"] for c in listed.json()["items"]] == ["from rcutfriend"]
    everyone = stale(await client.get(f"/v1/clips/{clip}/comments"))
    assert sorted(c["body"] for c in everyone.json()["items"]) == ["from rcutfriend", "from rcuttroll"]
    # and a creator who blocked the viewer stays hidden from them
    assert_problem(await client.get(f"/v1/clips/{shunned}", headers=viewer.auth), 404)
    assert_problem(await client.get(f"/v1/clips/{shunned}/comments", headers=viewer.auth), 404)
    assert stale(await client.get(f"/v1/clips/{shunned}")).json()["id"] == str(shunned)
    assert reads("replica", "primary_down") > 0
