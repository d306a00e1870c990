"""``Tus-Resumable`` on every response under ``/v1/uploads``, including those produced outside our
routes (the body-limit 413, authentication 401, rate-limit 429, validation errors), as tus asks."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clipfeed.uploads.protocol import TUS_VERSION

PREFIX = "/v1/uploads"


class TusHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"tus-resumable" for name, _ in headers):
                    headers.append((b"tus-resumable", TUS_VERSION.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_version)
