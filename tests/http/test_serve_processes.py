"""``clipfeed serve --processes 2`` as operators run it: /metrics adds up every process (a
counter equals the requests made and never goes down between scrapes), and every line the
server logs is JSON, from the parent and from each serving process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.services import free_port

CLIPFEED = str(Path(sys.executable).parent / "clipfeed")
REQUESTS = 60
COUNT = re.compile(r'^clipfeed_http_request_duration_seconds_count\{[^}]*route="/v1/trending"[^}]*\} (\S+)$', re.M)


def _trending_requests(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(value) for value in COUNT.findall(text))


def _serve(tmp_path: Path, log: Path, **settings: str) -> tuple[subprocess.Popen[bytes], str]:
    """``clipfeed serve --processes 2``, once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(tmp_path / "var"), "CLIPFEED_LOG_JSON": "true",
           "CLIPFEED_LOG_LEVEL": "INFO", "CLIPFEED_INPROCESS_WORKERS": "none", **settings}
    with log.open("wb") as out:
        proc = subprocess.Popen([CLIPFEED, "serve", "--port", str(port), "--processes", "2"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the server never answered"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)


@pytest.mark.slow
def test_two_serving_processes_add_up_their_metrics_and_log_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    proc, url = _serve(tmp_path, log)
    try:
        scrapes = [_trending_requests(url)]
        for n in range(REQUESTS):
            # A new connection each time, so the kernel spreads them over both processes.
            assert httpx.get(f"{url}/v1/trending", timeout=10).status_code == 200
            if n % 10 == 0:
                scrapes.append(_trending_requests(url))
        scrapes += [_trending_requests(url) for _ in range(6)]
        assert scrapes[0] == 0 and scrapes[-1] == REQUESTS, scrapes
        assert scrapes == sorted(scrapes), f"the counter went down between scrapes: {scrapes}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    pids = set()
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
        pids.add(entry.get("pid"))
    requests = [json.loads(line) for line in lines if '"request"' in line]
    assert len(requests) == REQUESTS
    assert len({entry["pid"] for entry in requests}) == 2, "one process served every request"


@pytest.mark.slow
def test_a_frozen_serving_process_does_not_keep_the_server_from_stopping(tmp_path: Path) -> None:
    # A process frozen (or stuck in its shutdown) ignores SIGTERM. The supervisor waits for it
    # as long as the drain and the workers' stop take, plus a margin, then kills it.
    log = tmp_path / "serve.log"
    proc, _ = _serve(tmp_path, log, CLIPFEED_DRAIN_GRACE_S="1", CLIPFEED_WORKER_STOP_GRACE_S="1")
    try:
        children = [int(pid) for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
                    if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]  # not the resource tracker
        assert len(children) == 2, children
        os.kill(children[0], signal.SIGSTOP)
        proc.send_signal(signal.SIGTERM)
        # 1 s of drain, 1 s of workers' stop and the 10 s margin, with room for a slow machine.
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "a serving process outlived the server"
    killed = [json.loads(line) for line in log.read_text().splitlines() if "serve.process_killed" in line]
    assert [entry["pid"] for entry in killed] == [children[0]]
