"""``/@handle`` and ``/share/c/<id>`` are pages for people and, asked for as ActivityPub, the
actor and the ``Video`` for servers (Mastodon's search resolves a pasted profile or clip URL
this way). This middleware routes the second kind to the federation routes before the web app's
catch-all sees them."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from clipfeed.federation.documents import ACTIVITY_JSON

PATHS = [(re.compile(r"^/@([A-Za-z0-9_.]{1,40})/?$"), "/ap/handles/{}"),
         (re.compile(r"^/share/c/([0-9]{1,19})/?$"), "/ap/clips/{}")]


def wants_activitypub(accept: str) -> bool:
    accept = accept.lower()
    return ACTIVITY_JSON in accept or ("application/ld+json" in accept and "activitystreams" in accept)


class ActivityPubPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            for pattern, target in PATHS:
                found = pattern.match(scope["path"])
                if found:
                    accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
                    if wants_activitypub(accept):
                        path = target.format(found.group(1))
                        scope = {**scope, "path": path, "raw_path": path.encode()}
                    break
        await self.app(scope, receive, send)
