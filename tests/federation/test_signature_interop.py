"""Our HTTP signatures against another implementation's: bovine (a Python ActivityPub library,
its own Cavage signer and verifier). bovine pins an older ``cryptography`` than ours, so it runs
in the peers' venv (``tests/federation/peers.lock``) that ``make install`` makes.

bovine signs with its real HTTP client, sending to a small aiohttp server in its venv that
records what arrives; we check those requests. It verifies ours with its inbox-side checker."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clipfeed.federation.signatures import (
    generate_key_pair,
    key_id_of,
    load_private_key,
    load_public_key,
    sign_request,
    verify_request,
)
from tests.federation.peers import PEERS_PYTHON

KEY_ID = "https://peer.example/users/alice#main-key"
OWNER = "https://peer.example/users/alice"
ACTIVITY = '{"type":"Follow","actor":"https://peer.example/users/alice","object":"https://clips.example/users/bob"}'

BOVINE = """
import asyncio, json, sys
from aiohttp import ClientSession, web
from multidict import CIMultiDict
from bovine.clients.signed_http import SignedHttpClient
from bovine.crypto import build_validate_http_signature_raw
from bovine.crypto.types import CryptographicIdentifier


async def sign(task):
    arrived = []

    async def record(request):
        arrived.append({"method": request.method, "target": request.path_qs, "headers": dict(request.headers),
                        "body": (await request.read()).decode()})
        return web.Response(status=202)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = "http://127.0.0.1:%d" % runner.addresses[0][1]
    try:
        async with ClientSession() as session:
            client = SignedHttpClient(session, task["key_id"], task["private_pem"])
            (await client.post(base + "/users/bob/inbox", task["body"])).release()
            (await client.get(base + "/users/bob/outbox?page=2")).release()
    finally:
        await runner.cleanup()
    return arrived


async def verify(task):
    async def key_for(key_id):
        return CryptographicIdentifier.from_pem(task["public_pem"], task["owner"])

    check = build_validate_http_signature_raw(key_for)
    owners = []
    for request in task["requests"]:
        async def body(request=request):
            return request["body"].encode()

        owners.append(await check(request["method"], request["url"], CIMultiDict(request["headers"]), body))
    return owners


task = json.load(sys.stdin)
print(json.dumps(asyncio.run({"sign": sign, "verify": verify}[task["mode"]](task))))
"""


def _bovine(task: dict[str, Any], tmp_path: Path) -> Any:
    assert PEERS_PYTHON.exists(), f"{PEERS_PYTHON} is missing: run make install"
    # Run outside any source tree: bovine's own "types" package would shadow the standard library's.
    done = subprocess.run([str(PEERS_PYTHON), "-c", BOVINE], input=json.dumps(task), capture_output=True,
                          text=True, cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    return generate_key_pair()


def test_requests_bovine_signs_are_accepted_here(key_pair: tuple[str, str], tmp_path: Path) -> None:
    private_pem, public_pem = key_pair
    arrived = _bovine({"mode": "sign", "key_id": KEY_ID, "private_pem": private_pem, "body": ACTIVITY}, tmp_path)
    assert [request["method"] for request in arrived] == ["POST", "GET"]
    for request in arrived:
        assert key_id_of(request["headers"]) == KEY_ID
        verify_request(method=request["method"], target=request["target"], headers=request["headers"],
                       body=request["body"].encode(), public_key=load_public_key(public_pem))


def test_requests_we_sign_are_accepted_by_bovine_and_altered_ones_are_not(key_pair: tuple[str, str],
                                                                          tmp_path: Path) -> None:
    private_pem, public_pem = key_pair
    url = "https://peer.example/users/alice/inbox"
    headers = sign_request(method="POST", url=url, body=ACTIVITY.encode(), key_id=KEY_ID,
                           private_key=load_private_key(private_pem),
                           headers={"Content-Type": "application/activity+json"})
    outbox = "https://peer.example/users/alice/outbox"
    get = sign_request(method="GET", url=outbox, body=None, key_id=KEY_ID, private_key=load_private_key(private_pem),
                       headers={"Accept": "application/activity+json"})
    post = {"method": "POST", "url": url, "headers": headers, "body": ACTIVITY}
    requests = [post, {"method": "GET", "url": outbox, "headers": get, "body": ""},
                post | {"body": ACTIVITY.replace("Follow", "Block")},
                post | {"url": "https://peer.example/users/carol/inbox"}]
    owners = _bovine({"mode": "verify", "public_pem": public_pem, "owner": OWNER, "requests": requests}, tmp_path)
    assert owners == [OWNER, OWNER, None, None]
