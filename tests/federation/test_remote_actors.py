"""Storing the accounts of other servers: a first sighting stores one ``users`` row and one actor,
however many requests meet the account at once (a new server's first burst of deliveries), on
both stacks."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import sqlalchemy as sa

from clipfeed.accounts.models import User
from clipfeed.federation import remote
from clipfeed.federation.models import RemoteActor, RemoteInstance
from clipfeed.federation.signatures import generate_key_pair

SERVER = "race.example"


def _document(name: str, *, display_name: str = "Rae") -> remote.ActorDocument:
    uri = f"https://{SERVER}/users/{name}"
    return remote.ActorDocument(uri=uri, name=name, domain=SERVER, display_name=display_name, bio="",
                                inbox=f"{uri}/inbox", shared_inbox=f"https://{SERVER}/inbox", key_id=f"{uri}#main-key",
                                public_pem=generate_key_pair()[1], kind="Person", url=None)


async def _rows(services, name: str) -> tuple[list[int], list[int], int]:
    async with services.db.session() as session:
        users = list((await session.scalars(sa.select(User.id).where(User.handle == f"{name}@{SERVER}"))).all())
        actors = list((await session.scalars(sa.select(RemoteActor.user_id).where(
            RemoteActor.uri == f"https://{SERVER}/users/{name}"))).all())
        servers = await session.scalar(sa.select(sa.func.count()).select_from(RemoteInstance).where(
            RemoteInstance.domain == SERVER))
    return users, actors, int(servers or 0)


async def test_concurrent_first_sightings_of_one_actor_store_one_account(services) -> None:
    document = _document("rae")
    stored = await asyncio.gather(*(remote.store_actor(document, services=services) for _ in range(8)))
    users, actors, servers = await _rows(services, "rae")
    assert len(users) == 1 and actors == users and servers == 1
    assert {actor.user_id for actor in stored} == set(users)
    assert {actor.key_id for actor in stored} == {document.key_id}


async def test_concurrent_sightings_of_a_known_actor_keep_its_row_and_take_the_latest_profile(services) -> None:
    first = await remote.store_actor(_document("ray"), services=services)
    rotated = [replace(_document("ray", display_name=f"Ray {n}"), key_id=f"https://{SERVER}/users/ray#key-{n}")
               for n in range(6)]
    stored = await asyncio.gather(*(remote.store_actor(document, services=services) for document in rotated))
    users, actors, _ = await _rows(services, "ray")
    assert users == [first.user_id] and actors == users
    assert {actor.user_id for actor in stored} == {first.user_id}
    async with services.db.session() as session:
        key_id = await session.scalar(sa.select(RemoteActor.key_id).where(RemoteActor.user_id == first.user_id))
        shown = await session.scalar(sa.select(User.display_name).where(User.id == first.user_id))
    assert key_id in {document.key_id for document in rotated}
    assert shown in {document.display_name for document in rotated}


async def test_an_account_whose_address_changed_keeps_its_row(services) -> None:
    first = await remote.store_actor(_document("roe"), services=services)
    moved = replace(_document("roe"), uri=f"https://{SERVER}/actors/roe")
    stored = await remote.store_actor(moved, services=services)
    assert stored.user_id == first.user_id and stored.uri == moved.uri
    assert await remote.actor_by_uri(moved.uri, services=services, fetch=False) is not None
