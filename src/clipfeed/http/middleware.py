"""ASGI middleware: request IDs, access logs, latency metrics and request body limits.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so streaming bodies (tus uploads, SSE)
pass through without buffering.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import structlog
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clipfeed.http.metrics import REQUEST_SECONDS

log = structlog.get_logger("clipfeed.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLarge(StarletteHTTPException):
    """An HTTP exception, so FastAPI's body parsing re-raises it as a 413 instead of a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes")


class RequestContext:
    """Gives each request an ID (kept from ``X-Request-ID`` when sane), logs it, times it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUEST_SECONDS.labels(scope["method"], template, str(status)).observe(elapsed)
            if template not in ("/metrics", "/healthz"):
                log.info("request", method=scope["method"], path=scope["path"], route=template,
                         status=status, ms=round(elapsed * 1000, 2))
            structlog.contextvars.unbind_contextvars("request_id")


class BodyLimit:
    """Refuses bodies over a size limit with 413 before reading them, by path prefix.

    ``limits`` is a list of (prefix, max bytes), most specific first; the last entry should be
    ``("", default)``. A declared ``Content-Length`` over the limit is refused at once; a
    chunked body is counted as it streams and cut off when it passes the limit.
    """

    def __init__(self, app: ASGIApp, limits: Sequence[tuple[str, int]]) -> None:
        self.app = app
        self.limits = list(limits)

    def _limit(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.limits[-1][1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(scope, send, limit)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ControlCharactersInPath:
    """A path with a control character (``%00`` and the like) names nothing here: 404 before any
    route reads it. No handle, ID, key or tag may hold one, and PostgreSQL refuses a NUL in a
    string outright (an error, so a 500, wherever a route passed it on to a query)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _CONTROL.search(scope["path"]):
            await send_problem(scope, send, 404, "not-found", "Not found",
                               "no resource has control characters in its path")
            return
        await self.app(scope, receive, send)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    await send_problem(scope, send, 413, "payload-too-large", "Payload too large",
                   f"request bodies to {scope['path']} are limited to {limit} bytes", close=True)


async def send_problem(scope: Scope, send: Send, status: int, code: str, title: str, detail: str, *,
                       close: bool = False, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """A problem+json answer from middleware (outside FastAPI's exception handlers)."""
    body: dict[str, Any] = {"type": f"https://clipfeed.dev/problems/{code}", "title": title, "status": status,
                            "detail": detail, "instance": scope["path"]}
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    raw = orjson.dumps(body)
    sent = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(raw)).encode()),
            *headers]
    if close:
        sent.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": sent})
    await send({"type": "http.response.body", "body": raw})
