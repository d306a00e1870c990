"""Accounts and clips of a made-up remote server, stored as federation stores them (no
network): for tests of what happens to remote content here."""

from __future__ import annotations

from typing import Any

from clipfeed.accounts import service as accounts
from clipfeed.federation.models import RemoteActor, RemoteInstance
from clipfeed.federation.signatures import generate_key_pair
from clipfeed.infra.db import insert_ignore

SERVER = "peer.example"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def remote_account(services: Any, name: str, server: str = SERVER) -> Any:
    """The ``users`` row and actor of ``name@server``."""
    async with services.db.session() as session:
        user = await accounts.upsert_remote(session, ids=services.ids, user_id=None, name=name, domain=server,
                                            display_name=name.title(), bio="")
        session.add(RemoteActor(user_id=user.id, uri=f"https://{server}/users/{name}",
                                key_id=f"https://{server}/users/{name}#key", public_pem=generate_key_pair()[1],
                                inbox=f"https://{server}/users/{name}/inbox", shared_inbox=f"https://{server}/inbox",
                                domain=server, kind="Person"))
        await insert_ignore(session, RemoteInstance, {"domain": server, "policy": "none", "failures": 0})
    return user


def video_of(name: str, number: int, server: str = SERVER, caption: str = "a peer's clip") -> dict[str, Any]:
    """A public ``Video`` by ``name@server`` as PeerTube or Loops would send it."""
    return {"id": f"https://{server}/videos/{number}", "type": "Video",
            "attributedTo": f"https://{server}/users/{name}", "content": f"<p>{caption}</p>", "to": [PUBLIC],
            "url": [{"type": "Link", "mediaType": "application/x-mpegURL",
                     "href": f"https://{server}/hls/{number}.m3u8"}],
            "duration": "PT12S"}
