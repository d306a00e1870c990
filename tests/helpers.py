"""Small helpers shared by API tests."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: int
    handle: str
    token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def signup(client: httpx.AsyncClient, handle: str, *, password: str = PASSWORD) -> Account:
    response = await client.post("/v1/auth/register", json={
        "handle": handle, "email": f"{handle}@example.com", "password": password})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(id=int(body["user"]["id"]), handle=handle, token=body["access_token"],
                   refresh_token=body["refresh_token"])


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert "Traceback" not in response.text
    return body


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Poll ``condition`` every 0.2 s until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


def hold_rate_clock(*, services) -> None:
    """Rate limits count in fixed windows: hold the limiter's clock still in the middle of one,
    so a test's tries are never split across two windows (which resets the count half-way)."""
    services.limiter.clock = lambda: 1_800_000_030.0


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:  # type: ignore[type-arg]
    """Wait until the server at ``url`` answers ``/healthz``; fail if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became healthy")


@contextlib.asynccontextmanager
async def serving(settings: Any, *, timeout: float = 5.0) -> AsyncIterator[httpx.AsyncClient]:
    """The app wired from ``settings`` as ``clipfeed serve`` wires it, started (lifespan) and
    reached in-process; the client's ``services`` attribute is the stack's ``Services``."""
    from clipfeed.api import create_app
    from clipfeed.bootstrap import bootstrap

    services = await bootstrap(settings)
    app = create_app(services=services)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=timeout) as client:
            client.services = services  # type: ignore[attr-defined]
            yield client
    finally:
        await services.close()


def sqlite_write_lock_free(path: Path, *, wait: float = 0.0) -> bool:
    """Whether ``path``'s SQLite write lock can be taken within ``wait`` seconds (taken and given
    back at once): False while another connection, in any process, is inside a write."""
    probe = sqlite3.connect(path, timeout=wait, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()
