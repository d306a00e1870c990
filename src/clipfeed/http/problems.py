"""RFC 9457 problem details for every error response; clients never see a stack trace."""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from clipfeed.core.errors import ClipfeedError, StorageFull, is_storage_full
from clipfeed.http.metrics import ADAPTER_ERRORS
from clipfeed.infra.db import restarts

log = structlog.get_logger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://clipfeed.dev/problems/"


def problem(status: int, code: str, title: str, detail: str, *, request: Request | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status,
                            "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


_HTTP_CODES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
               405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
               413: "payload-too-large", 415: "unsupported-media-type", 429: "rate-limited"}


CATCH_ALL = "/{path:path}"


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path``. Starlette's 405 names only the
    methods of the first route whose path matched, and each of our routes has one method, so
    ``GET /v1/clips/{id}`` answered a ``PUT`` with ``Allow: GET, HEAD`` though PATCH and DELETE
    are there too."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "allow_table", None)
    if table is None:
        # The web app's catch-all (GET anything) would otherwise be "allowed" on every API path,
        # where it only ever answers 404.
        table = [(compile_path(ctx.path)[0], set(ctx.methods)) for ctx in iter_route_contexts(app.routes)
                 if ctx.path and ctx.methods and ctx.path != CATCH_ALL]
        app.state.allow_table = table
    methods: set[str] = set()
    for pattern, route_methods in table:
        if pattern.match(path):
            methods |= route_methods
    return sorted(methods)


def _full(request: Request, exc: BaseException) -> JSONResponse:
    """507 for a full disk or store, whichever layer noticed: the client keeps its data and
    retries later (an upload resumes from its last durable offset)."""
    log.error("storage.full", path=request.url.path, error=str(exc).splitlines()[0][:300] if str(exc) else "")
    full = StorageFull("the server has no room to store this right now; nothing was lost, retry later")
    return problem(full.status, full.code, full.title, full.detail, request=request, headers=full.headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ClipfeedError)
    async def _domain(request: Request, exc: ClipfeedError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.title, exc.detail, request=request,
                       headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"location": [str(p) for p in err.get("loc", ())], "message": err.get("msg", ""),
                   "type": err.get("type", "")} for err in exc.errors()]
        malformed = any(e["type"] == "json_invalid" for e in errors)
        if malformed:
            return problem(400, "malformed-json", "The body is not valid JSON",
                           "fix the JSON syntax of the request body", request=request, errors=errors)
        return problem(422, "invalid", "The request is not valid",
                       "; ".join(f"{'.'.join(e['location'])}: {e['message']}" for e in errors),
                       request=request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return problem(exc.status_code, code, detail, detail, request=request, headers=headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        if is_storage_full(exc):
            return _full(request, exc)
        ADAPTER_ERRORS.labels(adapter="database").inc()
        restarts.note_failure(exc)  # a GET that wrote nothing may run again (clipfeed.http.restarts)
        log.error("database.unavailable", error=str(exc).splitlines()[0])
        return problem(503, "unavailable", "Service temporarily unavailable",
                       "the database cannot be reached; retry shortly", request=request,
                       headers={"Retry-After": "5"})

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return await _db_down(request, exc)
        return await _unexpected(request, exc)

    # Registered apart from ``Exception`` (whose handler Starlette runs outermost, then re-raises):
    # a full disk is an expected state of the machine, answered and done with here.
    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_storage_full(exc):
            return _full(request, exc)
        log.exception("request.failed", path=request.url.path)
        return problem(500, "internal-error", "Internal error",
                       "something went wrong on our side; it has been logged", request=request)
