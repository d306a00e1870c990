"""Live delivery across API processes: a write on process A reaches an SSE stream open on
process B within a second, through the event log (``clipfeed serve`` subprocesses on free
ports sharing one set of engines)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.services import free_port

CLIPFEED = str(Path(sys.executable).parent / "clipfeed")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in started:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _engines(stack: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(tmp_path / "var"), "CLIPFEED_LOG_JSON": "false",
           "CLIPFEED_LOG_LEVEL": "WARNING"}
    if stack == "embedded":  # SQLite + embedded log shared through the data directory
        env["CLIPFEED_CACHE_URL"] = "memory://"
        return env
    unique = uuid.uuid4().hex[:10]
    env.update(CLIPFEED_DATABASE_URL=request.getfixturevalue("postgres_url"),
               CLIPFEED_CACHE_URL=f"{request.getfixturevalue('redis_url')}/15?prefix=t{unique}:",
               CLIPFEED_LOG_URL=f"{request.getfixturevalue('nats_url')}?prefix=t{unique}",
               CLIPFEED_BLOB_URL=f"file://{tmp_path}/blobs")
    migrated = subprocess.run([CLIPFEED, "migrate"], env=env, capture_output=True, timeout=180)
    assert migrated.returncode == 0, migrated.stderr.decode()
    return env


def _serve(env: dict[str, str], workers: str, processes: list[subprocess.Popen[bytes]]) -> str:
    port = free_port()
    proc = subprocess.Popen([CLIPFEED, "serve", "--port", str(port)],
                            env={**env, "CLIPFEED_INPROCESS_WORKERS": workers, "CLIPFEED_PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    processes.append(proc)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, (proc.stderr.read() if proc.stderr else b"").decode()[-3000:]
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


async def _register(http: httpx.AsyncClient, url: str, handle: str) -> tuple[int, str]:
    made = await http.post(f"{url}/v1/auth/register", json={
        "handle": handle, "email": f"{handle}@example.com", "password": "correct horse battery"})
    assert made.status_code == 201, made.text
    return int(made.json()["user"]["id"]), str(made.json()["access_token"])


async def _listen(http: httpx.AsyncClient, url: str, token: str, ready: asyncio.Event,
                  arrived: asyncio.Queue[tuple[float, dict]]) -> None:
    async with http.stream("GET", f"{url}/v1/notifications/stream?access_token={token}") as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        name = ""
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                if name == "ready":
                    ready.set()
                elif name == "notification":
                    await arrived.put((time.monotonic(), orjson.loads(line.split(":", 1)[1])))


@pytest.mark.slow
@pytest.mark.alone
@pytest.mark.parametrize("stack", ["embedded", "real"])
async def test_a_follow_on_one_process_reaches_a_stream_on_another_within_a_second(
        stack: str, tmp_path: Path, request: pytest.FixtureRequest, processes: list[subprocess.Popen[bytes]]) -> None:
    env = _engines(stack, tmp_path, request)
    writer = _serve(env, "stream", processes)  # A: API plus the stream workers (fan-out)
    reader = _serve(env, "none", processes)    # B: API only
    async with httpx.AsyncClient(timeout=30) as http:
        alice_id, alice = await _register(http, writer, "alice")
        fans = [await _register(http, writer, name) for name in ("bob", "carol", "dave")]
        ready, arrived = asyncio.Event(), asyncio.Queue[tuple[float, dict]]()
        listener = asyncio.create_task(_listen(http, reader, alice, ready, arrived))
        try:
            await asyncio.wait_for(ready.wait(), 30)
            for fan_id, token in fans:
                followed = await http.put(f"{writer}/v1/users/{alice_id}/follow",
                                          headers={"Authorization": f"Bearer {token}"})
                assert followed.status_code == 200, followed.text
                written = time.monotonic()
                at, note = await asyncio.wait_for(arrived.get(), 10)
                assert note["kind"] == "follow" and note["actors"][0]["id"] == str(fan_id)
                assert note["unread_count"] >= 1
                assert at - written < 1.0, f"{stack}: arrived after {at - written:.2f} s"
            stored = await http.get(f"{reader}/v1/notifications", headers={"Authorization": f"Bearer {alice}"})
            assert [n["kind"] for n in stored.json()["items"]] == ["follow"] * len(fans)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
