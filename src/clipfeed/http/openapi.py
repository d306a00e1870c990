"""The OpenAPI document tells every response a route can give, not only its success.

FastAPI documents the success response and a 422 in its own JSON shape. Our errors all come out
of ``clipfeed.http.problems`` as ``application/problem+json``, from a few places every route shares
(authentication, the body limit, path parameters, the database), so they are documented here, once,
from what each route is: which authentication dependency it has, whether it has path parameters or
a body, whether it accepts ``Idempotency-Key``. Features whose wire format is not JSON (tus, the
media origin) add their own part through ``install(..., extras=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from clipfeed.http.deps import current_user, optional_user
from clipfeed.http.problems import PROBLEM_JSON

Spec = dict[str, Any]
SECURITY = "bearer"
CURSOR_FORMAT = "cursor"
UNSAFE = {"post", "put", "patch", "delete"}

PROBLEM_SCHEMA: Spec = {
    "type": "object", "title": "Problem", "additionalProperties": True,
    "description": "RFC 9457 problem details; some problems add fields of their own",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "a URI naming the kind of problem"},
        "title": {"type": "string"}, "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "what went wrong with this request, for people"},
        "instance": {"type": "string", "description": "the path of the request"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "description": "one entry per invalid field (422)", "items": {
            "type": "object", "properties": {
                "location": {"type": "array", "items": {"type": "string"}},
                "message": {"type": "string"}, "type": {"type": "string"}}}},
    },
}
HEADERS: Spec = {
    "X-Request-ID": {"description": "the request's ID (kept from the request when sane), also in logs",
                     "schema": {"type": "string"}, "required": True},
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}},
    "WWW-Authenticate": {"description": "the authentication scheme to use", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "'true' when this is the stored response of an earlier request "
                                           "with the same Idempotency-Key", "schema": {"type": "string"}},
}
# Operations whose handler (or the service it calls) counts requests against a rate limit.
RATE_LIMITED = {
    ("post", "/v1/auth/register"), ("post", "/v1/auth/login"), ("post", "/v1/auth/refresh"),
    ("post", "/v1/reports"), ("post", "/v1/moderation/blocklist"), ("post", "/v1/uploads/"),
    ("patch", "/v1/uploads/{upload_id}"), ("post", "/v1/events"), ("post", "/v1/clips/{clip_id}/edits"),
    ("post", "/v1/admin/purge"), ("get", "/v1/feed"), ("post", "/v1/clips/{clip_id}/shares"),
    ("post", "/v1/clips/{clip_id}/comments"), ("patch", "/v1/clips/{clip_id}/comments/{comment_id}"),
}
RATE_LIMITED_PREFIXES = ("/v1/users/{user_ref}/follow", "/v1/users/{user_ref}/block", "/v1/clips/{clip_id}/like",
                         "/v1/clips/{clip_id}/bookmark", "/v1/clips/{clip_id}/comments/{comment_id}/like",
                         "/v1/clips/{clip_id}/not-interested", "/v1/users/{user_ref}/hide")
# Problems particular to one operation, beyond what its shape implies.
OWN_PROBLEMS: dict[tuple[str, str], dict[int, str]] = {
    ("post", "/v1/auth/login"): {401: "Wrong login or password, or the account is suspended"},
    ("post", "/v1/auth/refresh"): {401: "The refresh token is invalid, expired or already used"},
    ("post", "/v1/auth/register"): {409: "The handle or e-mail address is taken"},
}
PROBLEMS: dict[int, str] = {
    400: "Malformed request: unreadable JSON, a cursor or header value this API cannot read",
    401: "Not signed in, or the access token is invalid, expired or revoked",
    403: "Signed in, but not allowed to do this",
    404: "No such resource (or not visible to you)",
    409: "Conflicts with the current state (or a request with this Idempotency-Key is still running)",
    413: "The request body is over the limit of this route",
    422: "The request is well-formed but not valid",
    429: "Too many requests: wait Retry-After seconds",
    503: "A dependency (database, cache, event log) is unavailable: retry after Retry-After seconds",
}

Extra = Callable[[Spec], None]


def install(app: FastAPI, *, extras: Sequence[Extra] = ()) -> None:
    """Replace ``app.openapi`` by one that documents every response (built once, then cached)."""
    build = app.openapi

    def openapi() -> Spec:
        if app.openapi_schema is None:
            spec = build()
            document(spec, routes=[ctx for ctx in iter_route_contexts(app.routes)])
            for extra in extras:
                extra(spec)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document(spec: Spec, routes: Iterable[Any]) -> None:
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["headers"] = {**components.get("headers", {}), **HEADERS}
    components.setdefault("securitySchemes", {})[SECURITY] = {
        "type": "http", "scheme": "bearer", "description": "an access token from POST /v1/auth/login"}
    auth = {(method.lower(), ctx.path): _auth_of(ctx.original_route)
            for ctx in routes if isinstance(ctx.original_route, APIRoute) for method in ctx.methods or ()}
    for path, method, operation in operations(spec):
        _document_operation(path, method, operation, auth.get((method, path)))
    _drop_unused_validation_schemas(spec)


def operations(spec: Spec) -> Iterator[tuple[str, str, Spec]]:
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "options", "head", "patch", "trace"}:
                yield path, method, operation


def problem_response(status: int, description: str | None = None, **headers: bool) -> Spec:
    """A problem+json response; ``headers`` names component headers, True when always sent."""
    response: Spec = {"description": description or PROBLEMS[status],
                      "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    response["headers"] = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
    for name, required in headers.items():
        name = name.replace("_", "-")
        response["headers"][name] = ({**HEADERS[name], "required": True} if required
                                     else {"$ref": f"#/components/headers/{name}"})
    return response


def _document_operation(path: str, method: str, operation: Spec, auth: str | None) -> None:
    responses: Spec = operation.setdefault("responses", {})
    for response in responses.values():
        response.setdefault("headers", {}).setdefault("X-Request-ID", {"$ref": "#/components/headers/X-Request-ID"})
    params = operation.get("parameters", [])
    for param in params:
        if param.get("in") == "query" and param.get("name") == "cursor":
            _describe_cursor(param)
    takes_input = bool(params) or "requestBody" in operation or method in UNSAFE
    wanted: dict[int, Spec] = {}
    if auth == "required":
        operation["security"] = [{SECURITY: []}]
        wanted[401] = problem_response(401, WWW_Authenticate=False)
        wanted[403] = problem_response(403)
    elif auth == "optional":
        operation["security"] = [{}, {SECURITY: []}]
        wanted[401] = problem_response(401, "The access token sent is invalid, expired or revoked "
                                            "(leave it out to be served anonymously)", WWW_Authenticate=False)
    if takes_input:
        wanted[400] = problem_response(400)
        wanted[422] = problem_response(422)
    if any(p.get("in") == "path" for p in params):
        wanted[404] = _html_not_found() if _is_page(responses) else problem_response(404)
    if method in UNSAFE:
        wanted[413] = problem_response(413)
    if any(p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key" for p in params):
        wanted[409] = problem_response(409, Retry_After=False)
        for code, success in responses.items():
            if code.startswith("2"):
                success["headers"]["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}
    if (method, path) in RATE_LIMITED or (method in UNSAFE and path.startswith(RATE_LIMITED_PREFIXES)):
        wanted[429] = problem_response(429, Retry_After=True)
    if path.startswith("/v1/") or auth is not None:
        wanted[503] = problem_response(503, Retry_After=True)
    for own, description in OWN_PROBLEMS.get((method, path), {}).items():
        wanted[own] = problem_response(own, description)
    for status, problem in wanted.items():
        known = responses.get(str(status))
        if known is None or "HTTPValidationError" in str(known):
            responses[str(status)] = problem  # FastAPI's 422 is not the shape our handler sends


def _describe_cursor(param: Spec) -> None:
    """A cursor is only ever one the API handed out (``next_cursor``); anything else is a 400.
    Its own ``format`` says so to clients and lets fuzzers make valid ones."""
    schema = param.get("schema", {})
    variants = schema.get("anyOf", [schema])
    for variant in variants:
        if variant.get("type") == "string":
            variant["format"] = CURSOR_FORMAT
    param["description"] = "next_cursor of the previous page (opaque); leave out for the first page"


def _is_page(responses: Spec) -> bool:
    """Pages for people (the share pages) answer 'not found' with a page too."""
    return any(set(r.get("content", {})) == {"text/html"} for s, r in responses.items() if s.startswith("2"))


def _html_not_found() -> Spec:
    return {"description": "A page saying there is nothing to see here (a problem for a path no page can "
                           "have, such as one with control characters)",
            "content": {"text/html": {"schema": {"type": "string"}},
                        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}}


def _auth_of(route: APIRoute) -> str | None:
    calls = set(_calls(route.dependant))
    if current_user in calls:
        return "required"
    return "optional" if optional_user in calls else None


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _drop_unused_validation_schemas(spec: Spec) -> None:
    schemas = spec.get("components", {}).get("schemas", {})
    text = str(spec.get("paths", {}))
    if "HTTPValidationError" not in text:
        schemas.pop("HTTPValidationError", None)
        if "ValidationError" not in str(schemas):
            schemas.pop("ValidationError", None)
