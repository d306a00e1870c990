"""Token checks served from the cache still see every change at once: sign-out, role,
suspension, profile edits and deletion; and the cache never holds a password hash."""

from __future__ import annotations

from clipfeed.accounts import service as accounts
from clipfeed.accounts import token_cache, tokens
from clipfeed.accounts.models import Role
from clipfeed.infra.db import utcnow
from tests.helpers import PASSWORD, assert_problem, signup


async def test_a_checked_token_is_cached_without_the_password_hash(client, services) -> None:
    alice = await signup(client, "alice")
    assert (await client.get("/v1/me", headers=alice.auth)).status_code == 200
    raw = await services.cache.get(f"auth:tok:{tokens.digest(alice.token).hex()}")
    assert raw is not None and b'"handle":"alice"' in raw
    assert b"argon2" not in raw and alice.token.encode() not in raw


async def test_role_suspension_and_profile_changes_apply_to_a_cached_token_at_once(client, services) -> None:
    alice = await signup(client, "alice")
    assert (await client.get("/v1/me", headers=alice.auth)).json()["role"] == "user"  # now cached
    await accounts.set_role(db=services.db, cache=services.cache, handle="alice", role=Role.moderator)
    assert (await client.get("/v1/me", headers=alice.auth)).json()["role"] == "moderator"
    renamed = await client.patch("/v1/me", headers=alice.auth, json={"handle": "alicia"})
    assert renamed.status_code == 200
    assert (await client.get("/v1/me", headers=alice.auth)).json()["handle"] == "alicia"
    await accounts.set_suspended(db=services.db, cache=services.cache, outbox=services.outbox,
                                 user_id=alice.id, suspended=True, reason="test")
    assert_problem(await client.get("/v1/me", headers=alice.auth), 401)


async def test_a_deleted_account_token_stops_working_at_once(client, services) -> None:
    bob = await signup(client, "bob")
    assert (await client.get("/v1/me", headers=bob.auth)).status_code == 200
    deleted = await client.request("DELETE", "/v1/me", headers=bob.auth, json={"password": PASSWORD})
    assert deleted.status_code == 204, deleted.text
    assert_problem(await client.get("/v1/me", headers=bob.auth), 401)


async def test_a_check_that_raced_a_change_cannot_cache_the_old_state(client, services) -> None:
    carol = await signup(client, "carol")
    digest = tokens.digest(carol.token)
    before = await token_cache.lookup(services.cache, services.db, digest)
    user, expires_at = await accounts._user_for_digest(services.db, digest)  # read before the change ...
    await token_cache.bypass(services.cache, services.db, user_id=carol.id)  # ... the change ...
    await token_cache.remember(services.cache, digest, user, expires_at, before)  # ... then the late write
    found = await token_cache.lookup(services.cache, services.db, digest)
    assert found.entry is None
    assert expires_at > utcnow()
