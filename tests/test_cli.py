"""The ``clipfeed`` command as an operator runs it: real processes, real ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import wait_healthy
from tests.services import free_port

CLIPFEED = str(Path(sys.executable).parent / "clipfeed")


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "CLIPFEED_DATA_DIR": str(tmp_path / "var"), "CLIPFEED_LOG_JSON": "false"}


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_migrate_then_admin_creates_a_moderator(tmp_path: Path) -> None:
    env = _env(tmp_path)
    migrate = subprocess.run([CLIPFEED, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    assert "up to date" in migrate.stderr
    create = subprocess.run([CLIPFEED, "admin", "create-user", "ops_anna", "anna@example.com",
                             "--password", "a long enough password"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert create.returncode == 0, create.stderr
    assert "created @ops_anna" in create.stderr
    promote = subprocess.run([CLIPFEED, "admin", "make-moderator", "ops_anna"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert promote.returncode == 0 and "moderator" in promote.stderr
    crowned = subprocess.run([CLIPFEED, "admin", "make-admin", "ops_anna"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert crowned.returncode == 0 and "@ops_anna is now admin" in crowned.stderr
    missing = subprocess.run([CLIPFEED, "admin", "make-moderator", "nobody_here"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "no user @nobody_here" in missing.stderr
    weak = subprocess.run([CLIPFEED, "admin", "create-user", "x", "bad", "--password", "short"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert weak.returncode == 2 and "invalid" in weak.stderr


def test_serve_answers_health_and_api(tmp_path: Path, started: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    proc = subprocess.Popen([CLIPFEED, "serve", "--port", str(port)], env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started.append(proc)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc)
    assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    registered = httpx.post(f"{url}/v1/auth/register", json={
        "handle": "served", "email": "served@example.com", "password": "long enough pw"}, timeout=10)
    assert registered.status_code == 201


def test_demo_prints_a_url_that_answers(tmp_path: Path, started: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    proc = subprocess.Popen([CLIPFEED, "demo", "--port", str(port)], env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    started.append(proc)
    assert proc.stdout is not None
    deadline = time.monotonic() + 600
    url = ""
    while time.monotonic() < deadline and not url:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError("demo exited before printing its URL")
        if line.startswith("http://"):
            url = line.strip()
    assert url == f"http://127.0.0.1:{port}"
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    login = httpx.post(f"{url}/v1/auth/login", json={"login": "demo", "password": "clipfeed-demo"}, timeout=10)
    assert login.status_code == 200


def test_recs_train_below_the_minimum_says_why_no_ranker_was_trained(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert subprocess.run([CLIPFEED, "migrate"], env=env, capture_output=True, timeout=120).returncode == 0
    train = subprocess.run([CLIPFEED, "recs", "train"], env=env, capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr
    assert "no ranker trained" in train.stderr
    assert "only 0 closed impressions" in train.stderr and "at least 200" in train.stderr


def test_serve_refuses_one_node_id_for_several_processes(tmp_path: Path) -> None:
    """Every process would make IDs as the same node: two rows in one millisecond, one ID."""
    refused = subprocess.run([CLIPFEED, "serve", "--processes", "2", "--port", str(free_port())],
                             env={**_env(tmp_path), "CLIPFEED_NODE_ID": "5"}, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 2 and "CLIPFEED_NODE_ID names one process" in refused.stderr
