"""Another fediverse server, as small as the inbox tests need: it publishes its accounts' actor
documents (a test may rotate their keys), records what is posted to its inboxes, and its
accounts sign the activities a test posts to Clipfeed (the Cavage scheme Mastodon sends).

It runs in the test's process, served by uvicorn over real HTTP on a loopback address, so
Clipfeed fetches its keys the way it fetches any server's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clipfeed.cluster.engines import free_port
from clipfeed.core import contract
from clipfeed.core.errors import NotFound
from clipfeed.core.events import Event
from clipfeed.federation.signatures import generate_key_pair, load_private_key, sign_request

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
ACTIVITY_JSON = "application/activity+json"


@dataclass
class PeerAccount:
    uri: str
    private_pem: str
    public_pem: str
    key_name: str = "main-key"

    @property
    def key_id(self) -> str:
        return f"{self.uri}#{self.key_name}"

    @property
    def name(self) -> str:
        return self.uri.rsplit("/", 1)[-1]

    def document(self) -> dict[str, Any]:
        return {"@context": [AS_CONTEXT, "https://w3id.org/security/v1"], "id": self.uri, "type": "Person",
                "preferredUsername": self.name, "name": self.name.title(), "inbox": f"{self.uri}/inbox",
                "outbox": f"{self.uri}/outbox", "followers": f"{self.uri}/followers",
                "endpoints": {"sharedInbox": f"{self.uri.rsplit('/users/', 1)[0]}/inbox"},
                "publicKey": {"id": self.key_id, "owner": self.uri, "publicKeyPem": self.public_pem}}

    def rotate_key(self, key_name: str | None = None) -> None:
        """A new key pair (under a new key ID when ``key_name`` is given), as an account moved
        to new keys publishes it: only its actor document changes."""
        self.private_pem, self.public_pem = generate_key_pair()
        if key_name is not None:
            self.key_name = key_name

    def activity(self, kind: str, target: Any, **fields: Any) -> dict[str, Any]:
        return {"@context": AS_CONTEXT, "id": f"{self.uri}/activities/{uuid.uuid4().hex}", "type": kind,
                "actor": self.uri, "object": target, **fields}

    def signed_headers(self, inbox: str, body: bytes, *, now: datetime | None = None,
                       private_pem: str | None = None) -> dict[str, str]:
        return sign_request(method="POST", url=inbox, body=body, key_id=self.key_id,
                            private_key=load_private_key(private_pem or self.private_pem),
                            headers={"Content-Type": ACTIVITY_JSON}, now=now)


@dataclass
class Peer:
    url: str
    accounts: dict[str, PeerAccount] = field(default_factory=dict)
    delivered: list[dict[str, Any]] = field(default_factory=list)  # what was posted to our inboxes
    fetched: list[str] = field(default_factory=list)  # paths of the actor documents served

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def account(self, name: str) -> PeerAccount:
        if name not in self.accounts:
            private_pem, public_pem = generate_key_pair()
            self.accounts[name] = PeerAccount(f"{self.url}/users/{name}", private_pem, public_pem)
        return self.accounts[name]

    def app(self) -> Starlette:
        async def actor(request: Request) -> Response:
            self.fetched.append(request.url.path)
            found = self.accounts.get(request.path_params["name"])
            if found is None:
                return Response(status_code=404)
            return JSONResponse(found.document(), media_type=ACTIVITY_JSON)

        async def inbox(request: Request) -> Response:
            self.delivered.append(json.loads(await request.body()))
            return Response(status_code=202)

        return Starlette(routes=[Route("/users/{name}", actor), Route("/users/{name}/inbox", inbox, methods=["POST"]),
                                 Route("/inbox", inbox, methods=["POST"])])


@contextlib.asynccontextmanager
async def serving_peer(address: str) -> AsyncIterator[Peer]:
    import uvicorn

    port = free_port()
    peer = Peer(f"http://{address}:{port}")
    server = uvicorn.Server(uvicorn.Config(peer.app(), host=address, port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        yield peer
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 15)


async def post_activity(client: httpx.AsyncClient, inbox: str, activity: dict[str, Any], *, signer: PeerAccount,
                        now: datetime | None = None) -> httpx.Response:
    """``activity`` posted to ``inbox`` (an absolute URL), signed by ``signer`` as Mastodon signs."""
    body = json.dumps(activity).encode()
    return await client.post(inbox, content=body, headers=signer.signed_headers(inbox, body, now=now))


async def queued_activities(services: Any) -> list[dict[str, Any]]:
    """Every activity the inbox has queued for the federation worker (topic ``federation.inbox``)."""
    await services.outbox.flush()
    log = services.log
    try:
        partitions = await log.partitions(contract.Topic.FEDERATION_INBOX)
    except NotFound:  # nothing was ever queued: the topic does not exist yet
        return []
    found = []
    for partition in range(partitions):
        for record in await log.read(contract.Topic.FEDERATION_INBOX, partition, from_offset=0, limit=10_000):
            found.append(contract.ACTIVITY_RECEIVED.parse(Event.decode(record.value)).activity)
    return found
