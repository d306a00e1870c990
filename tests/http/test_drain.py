"""``clipfeed serve`` on SIGTERM, as a deploy sees it: the request in flight completes, a new one
is refused at once (connection refused or reset, or 503 on a connection already open), and the
process exits 0 within the grace; with one serving process and with several. And open event
streams are not load: they never make a server shed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.helpers import wait_healthy
from tests.services import free_port

CLIPFEED = str(Path(sys.executable).parent / "clipfeed")
GRACE_S = 20


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {marker!r}: {seen!r}"
        seen += chunk
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_sigterm_lets_the_request_in_flight_finish_refuses_new_ones_and_exits_0(tmp_path: Path, processes: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(tmp_path / "var"), "CLIPFEED_LOG_JSON": "false",
           "CLIPFEED_INPROCESS_WORKERS": "none", "CLIPFEED_DRAIN_GRACE_S": str(GRACE_S)}
    proc = subprocess.Popen([CLIPFEED, "serve", "--port", str(port), "--processes", str(processes)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url, proc)
        body = orjson.dumps({"handle": "inflight", "email": "inflight@example.com", "password": "long enough pw"})
        with socket.create_connection(("127.0.0.1", port), timeout=30) as uploading:
            # Expect: 100-continue: the server says "continue" once the route reads the body, so
            # after it the request is in flight (a registration waiting for the rest of its body).
            uploading.sendall(b"POST /v1/auth/register HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                              b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
            assert b" 100 " in _read_until(uploading, b"\r\n\r\n")
            uploading.sendall(body[:10])
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()

            # New requests after the signal: refused outright, or 503 on a connection that got in.
            deadline = time.monotonic() + 10
            while True:
                try:
                    answer = httpx.get(f"{url}/v1/trending", timeout=5)
                except httpx.TimeoutException as exc:
                    raise AssertionError("a new request hung after SIGTERM instead of being refused") from exc
                except httpx.TransportError:
                    break  # no longer listening
                if answer.status_code == 503:
                    assert answer.headers["retry-after"] and answer.headers["connection"] == "close"
                    break
                assert time.monotonic() < deadline, "still serving new requests after SIGTERM"

            uploading.sendall(body[10:])
            response = _read_until(uploading, b"}")
            assert response.startswith(b"HTTP/1.1 201 "), response[:200]
        assert proc.wait(timeout=GRACE_S + 10) == 0
        assert time.monotonic() - signalled < GRACE_S + 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_open_notification_streams_do_not_count_toward_the_in_flight_limit(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(tmp_path / "var"), "CLIPFEED_LOG_JSON": "false",
           "CLIPFEED_INPROCESS_WORKERS": "none", "CLIPFEED_SHED_MAX_IN_FLIGHT": "2"}
    proc = subprocess.Popen([CLIPFEED, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url, proc, timeout=90)
        token = httpx.post(f"{url}/v1/auth/register", json={
            "handle": "listener", "email": "listener@example.com", "password": "long enough pw"},
            timeout=10).json()["access_token"]
        with httpx.Client(base_url=url, timeout=10) as a, httpx.Client(base_url=url, timeout=10) as b, \
                httpx.Client(base_url=url, timeout=10) as c:
            streams = [client.stream("GET", "/v1/notifications/stream", params={"access_token": token})
                       for client in (a, b, c)]
            opened = [stream.__enter__() for stream in streams]  # headers received, body still open
            try:
                assert [r.status_code for r in opened] == [200, 200, 200]
                assert httpx.get(f"{url}/v1/trending", timeout=10).status_code == 200
                assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
            finally:
                for stream in streams:
                    stream.__exit__(None, None, None)
    finally:
        proc.terminate()
        proc.wait(30)
