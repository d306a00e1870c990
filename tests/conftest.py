"""Shared fixtures: real engines (see ``services.py``) for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import services as engines

# Each test starts fresh workers and most never screen a clip: loading the media models at a
# media worker's start (for a new instance's first clip) would only spend CPU here. Subprocess
# workers the tests start inherit it. tests/media/test_warmup.py turns it on for its own test.
os.environ["CLIPFEED_MEDIA_WARM_MODELS"] = "false"
# Refusing requests while the event loop lags is for a server among others behind a load
# balancer; here two workers, FFmpeg and Chromium share two cores, and a starved process would
# refuse a test's request. tests/http/test_shedding.py turns it on for its own tests.
os.environ["CLIPFEED_SHED_MAX_LOOP_LAG_MS"] = "0"

# Folders whose tests share a costly session-scoped stack (tests/web: a server and the app the
# browser journeys drive; tests/delivery: an origin and an nginx edge).
SHARED_STACKS = ("tests/web/", "tests/delivery/")
# Files of tests/web that run a server of their own (they publish clips the shared server's
# journeys must not see): any worker may take them, beside the shared server's group.
OWN_STACK = ("tests/web/test_create_journeys.py", "tests/web/test_editor_journeys.py", "tests/web/test_first_clips.py",
             "tests/web/test_serving.py")
# The longest scopes (minutes each), started first: a worker left with one of them at the end
# would run it alone while the other waits. Measured with --durations; keep it short.
LONGEST_FIRST = ("tests/web/test_create_journeys.py", "tests/web/test_editor_journeys.py", "tests/web/",
                 "tests/recs/test_offline_eval.py", "tests/ops/test_cluster.py",
                 "tests/lake/test_engines_agree.py", "tests/media/test_worker.py", "tests/uploads/test_cli_failures.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest scopes first (a stable sort: each module's tests stay together, in order).
    Every xdist worker sorts the same way, as it must."""
    def rank(item: pytest.Item) -> int:
        return next((n for n, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist (the test extra)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test`` runs two pytest-xdist workers with ``--dist loadfile``: each takes whole
    modules, so a module-scoped fixture is built once, and here whole folders of
    ``SHARED_STACKS``, so their stack is built once too. (xdist's ``loadgroup`` marks would say
    the same per test, but they work by renaming node ids, which pytest 9 ignores.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModulesAndStacks(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if module in OWN_STACK:
                return module
            return next((folder for folder in SHARED_STACKS if module.startswith(folder)), module)

    return ModulesAndStacks(config, log)


ACCOUNTS = Path(__file__).parent / "accounts"


@pytest.fixture(autouse=True)
def forget_breakers() -> Iterator[None]:
    """Each test starts with no circuit breaker known: one opened by a test of a dead engine
    (a closed port, a killed server) would otherwise stay listed, open, in later tests'
    ``/readyz`` (``clipfeed.infra.breaker`` keeps them per process)."""
    yield
    from clipfeed.infra.breaker import BREAKERS
    from clipfeed.infra.db import restarts

    BREAKERS.forget()
    restarts.forget()


@pytest.fixture(autouse=True)
def cheap_passwords(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Most suites sign users up (one test 201 of them); argon2's full cost (64 MiB, ~50 ms of
    CPU each) is the accounts suite's subject, not theirs. Same hasher, cheapest parameters,
    everywhere but ``tests/accounts/``."""
    if request.node.path.is_relative_to(ACCOUNTS):
        return
    from argon2 import PasswordHasher

    from clipfeed.accounts import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with engines.postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with engines.postgres_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> Iterator[str]:
    with engines.migrated_postgres_template(postgres_server_url) as name:
        yield name


@pytest.fixture(scope="session")
def postgres_copies(postgres_server_url: str, postgres_template: str) -> Iterator[engines.TemplateCopies]:
    copies = engines.TemplateCopies(postgres_server_url, postgres_template)
    try:
        yield copies
    finally:
        copies.close()


@pytest.fixture
def migrated_postgres_url(postgres_copies: engines.TemplateCopies) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, with the current schema."""
    with postgres_copies.database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return engines.migrated_sqlite_template(tmp_path_factory.mktemp("schema"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with engines.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    with engines.nats_server() as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with engines.seaweedfs() as endpoint:
        yield endpoint


# --- the application, wired as in production -------------------------------------------

STACKS = ["embedded", "real"]


def stack_settings(stack: str, tmp_path, request: pytest.FixtureRequest, **overrides):
    """Settings for the embedded stack, or the real one (PostgreSQL, S3, Redis, JetStream)."""
    from clipfeed.settings import Settings

    values: dict[str, object] = {"data_dir": tmp_path, "log_json": False}
    if stack == "real":
        values.update(real_stack(request.getfixturevalue("migrated_postgres_url"),
                                 request.getfixturevalue("s3_endpoint"), request.getfixturevalue("redis_url"),
                                 request.getfixturevalue("nats_url")))
    values.update(overrides)
    return Settings(**values)


def real_stack(database_url: str, s3_endpoint: str, redis_url: str, nats_url: str) -> dict[str, str]:
    """Settings of a real stack of its own: its database, and a bucket, cache prefix and
    stream prefix no other stack uses."""
    import uuid

    unique = uuid.uuid4().hex[:10]
    return {"database_url": database_url,
            "blob_url": f"s3://clipfeed-{unique}?endpoint={s3_endpoint}&region=us-east-1&access_key=test"
                        "&secret_key=test",
            "cache_url": f"{redis_url}/15?prefix=t{unique}:", "log_url": f"{nats_url}?prefix=t{unique}"}


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(stack: str, tmp_path, request: pytest.FixtureRequest):
    marker = request.node.get_closest_marker("settings")
    return stack_settings(stack, tmp_path, request, **(marker.kwargs if marker else {}))


@pytest.fixture
async def services(settings, sqlite_template: Path):
    from clipfeed.bootstrap import bootstrap

    for url in [settings.database_url, *settings.database_shard_urls]:
        engines.migrate_from_template(settings.resolve(url), sqlite_template)
    built = await bootstrap(settings)
    try:
        yield built
    finally:
        await built.cache.flush()
        await built.close()
        if settings.log_url.startswith("nats://"):
            url, _, query = settings.log_url.partition("?")
            await engines.drop_jetstream_streams(url, prefix=query.removeprefix("prefix="))


@pytest.fixture
async def client(*, services):
    import httpx

    from clipfeed.api import create_app

    app = create_app(services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
