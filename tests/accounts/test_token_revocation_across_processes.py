"""A role change or a suspension made by one process (another server process, or the CLI)
stops a token that a second process has cached, at once, on every stack."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from clipfeed.accounts import service as accounts
from clipfeed.accounts import token_cache, tokens
from clipfeed.accounts.models import Role
from tests.conftest import stack_settings
from tests.helpers import assert_problem, signup


@contextlib.asynccontextmanager
async def _second_process(settings: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """Another set of services on the same engines and data directory, as a second ``serve``
    process would build them: its own in-process cache (on the embedded stack), own pools."""
    from clipfeed.api import create_app
    from clipfeed.bootstrap import bootstrap

    other = await bootstrap(settings)
    app = create_app(services=other)
    try:
        async with (app.router.lifespan_context(app),
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http):
            yield other, http
    finally:
        await other.close()


async def test_revoking_a_moderator_in_one_process_is_refused_by_another_at_once(client, services) -> None:
    mona = await signup(client, "mona")
    await accounts.set_role(db=services.db, cache=services.cache, handle="mona", role=Role.moderator)
    async with _second_process(services.settings) as (other, second):
        for _ in range(2):  # the second check is served from the second process's cache
            assert (await second.get("/v1/moderation/queue", headers=mona.auth)).status_code == 200
        if other.cache.url.startswith("memory:"):
            assert await other.cache.get(f"auth:tok:{tokens.digest(mona.token).hex()}") is not None
        await accounts.set_role(db=services.db, cache=services.cache, handle="mona", role=Role.user)
        assert_problem(await second.get("/v1/moderation/queue", headers=mona.auth), 403)
        await accounts.set_suspended(db=services.db, cache=services.cache, outbox=services.outbox,
                                     user_id=mona.id, suspended=True, reason="test")
        assert_problem(await second.get("/v1/me", headers=mona.auth), 401)


async def test_a_sign_out_in_one_process_ends_the_token_in_another(client, services) -> None:
    erin = await signup(client, "erin")
    async with _second_process(services.settings) as (_, second):
        assert (await second.get("/v1/me", headers=erin.auth)).status_code == 200  # cached there
        assert (await client.post("/v1/auth/logout", headers=erin.auth)).status_code == 204
        assert_problem(await second.get("/v1/me", headers=erin.auth), 401)


@pytest.mark.parametrize("stack", ["real"])
async def test_a_process_local_cache_over_postgresql_does_not_cache_tokens(stack, tmp_path, request) -> None:
    # Nothing could tell a process on another machine about a change: the check reads the store.
    from clipfeed.bootstrap import bootstrap
    from clipfeed.infra.db.migrate import upgrade

    settings = stack_settings(stack, tmp_path, request, cache_url="memory://")
    upgrade(settings.resolve(settings.database_url))
    built = await bootstrap(settings)
    try:
        found = await token_cache.lookup(built.cache, built.db, b"\x00" * 32)
        assert found.entry is None and not found.cacheable
    finally:
        await built.close()
