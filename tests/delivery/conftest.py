"""A real origin (`clipfeed serve` in a subprocess) and a real nginx edge in front of it, shared
by the delivery tests; the tests write clips through their own services on the same engines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.services import free_port, stop_process, wait_for_port

SIGNING_KEYS = ["k2:second-secret-0123456789", "k1:first-secret-0123456789"]
PURGE_SECRET = "purge-secret-for-tests"


@dataclass
class Stack:
    data_dir: Path
    origin: str
    edge: str
    edge_spec: object

    def settings(self, **overrides: object):
        from clipfeed.settings import Settings

        values: dict[str, object] = dict(
            data_dir=self.data_dir, log_json=False, inprocess_workers="none", media_signing_keys=SIGNING_KEYS,
            edges={"local": [self.edge]}, edge_purge_secret=PURGE_SECRET, public_url=self.origin)
        values.update(overrides)
        return Settings(**values)


def origin_env(data_dir: Path, port: int, edge: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "CLIPFEED_DATA_DIR": str(data_dir), "CLIPFEED_PORT": str(port),
            "CLIPFEED_MEDIA_SIGNING_KEYS": ",".join(SIGNING_KEYS), "CLIPFEED_EDGES": json.dumps({"local": [edge]}),
            "CLIPFEED_EDGE_PURGE_SECRET": PURGE_SECRET, "CLIPFEED_INPROCESS_WORKERS": "none",
            "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_PUBLIC_URL": f"http://127.0.0.1:{port}", **extra}


@pytest.fixture(scope="session")
def delivery_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from clipfeed.delivery.edge_server import EdgeSpec, running_edge
    from clipfeed.delivery.signing import parse_keys

    root = tmp_path_factory.mktemp("delivery")
    data_dir = root / "data"
    origin_port, edge_port = free_port(), free_port()
    edge = f"http://127.0.0.1:{edge_port}"
    log = open(root / "origin.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve"],
                              env=origin_env(data_dir, origin_port, edge), stdout=log, stderr=subprocess.STDOUT)
    # Not under pytest's folder: other pytest runs on the machine reset its modes to 0700, and
    # nginx workers (nobody, when run as root) must pass through every folder above the cache.
    edge_root = Path(tempfile.mkdtemp(prefix="clipfeed-edge-"))
    spec = EdgeSpec(origin=f"127.0.0.1:{origin_port}", listen=f"127.0.0.1:{edge_port}", folder=edge_root / "edge",
                    keys=parse_keys(SIGNING_KEYS), purge_secret=PURGE_SECRET, agent_port=free_port())
    try:
        wait_for_port(origin_port, server, timeout=60)
        _wait_ready(f"http://127.0.0.1:{origin_port}")
        with running_edge(spec):
            yield Stack(data_dir=data_dir, origin=f"http://127.0.0.1:{origin_port}", edge=edge, edge_spec=spec)
    finally:
        stop_process(server, grace=15)
        log.close()
        shutil.rmtree(edge_root, ignore_errors=True)


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("origin did not answer /healthz")


@pytest.fixture(scope="session")
async def stack_services(delivery_stack: Stack) -> AsyncIterator[object]:
    """Services on the origin's engines (same SQLite file, same blob folders)."""
    from clipfeed.bootstrap import bootstrap

    services = await bootstrap(delivery_stack.settings())
    try:
        yield services
    finally:
        await services.close()


@pytest.fixture(scope="session")
async def creator(stack_services):
    from clipfeed.accounts import service as accounts

    s = stack_services
    return await accounts.create_user(db=s.db, outbox=s.outbox, ids=s.ids, settings=s.settings, handle="maker",
                                      email="maker@example.com", password="correct horse battery")


async def fetch(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url, headers=headers)


def origin_requests(origin: str) -> float:
    """How many media requests the origin has answered (its Prometheus counter)."""
    text = httpx.get(f"{origin}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("clipfeed_origin_requests_total{"))
