"""The OpenAPI document tells every response a route can give (issue 13, item 10), and the app
answers as it says: 401 where it claims authentication, ``Allow`` with every method on a 405."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from clipfeed.core.errors import RateLimited
from clipfeed.runtime.ratelimit import RateLimiter
from tests.helpers import assert_problem
from tests.http.routes import build_world, operations

pytestmark = pytest.mark.parametrize("stack", ["embedded"], indirect=True)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
PROBLEM = "application/problem+json"


async def _spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
            if method in METHODS]


def _filled(path: str) -> str:
    """A concrete URL for a templated path (IDs that exist nowhere)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def _requires_auth(op: dict[str, Any]) -> bool:
    return op.get("security") == [{"bearer": []}]


async def test_every_error_response_is_documented_as_a_problem(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    assert "Problem" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, method, op in _operations(spec):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            label = f"{method.upper()} {path} {status}"
            if "text/html" in content:  # the share pages' own not-found page
                assert path.startswith("/share/") and status == "404", label
                content = {k: v for k, v in content.items() if k != "text/html"}
            if not content:  # no body at all (the origin's 416)
                assert path.startswith("/media/") and status == "416", label
                continue
            assert set(content) == {PROBLEM}, label
            assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}, label
    assert "HTTPValidationError" not in str(spec["paths"])  # FastAPI's 422 shape is not what we send


async def test_each_route_documents_the_responses_its_shape_implies(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    operations = _operations(spec)
    assert len(operations) >= 85
    for path, method, op in operations:
        label = f"{method.upper()} {path}"
        codes = set(op["responses"])
        params = op.get("parameters", [])
        if _requires_auth(op):
            assert {"401", "403"} <= codes or path.startswith("/v1/uploads"), label
            assert "401" in codes, label
        if any(p["in"] == "path" for p in params):
            assert "404" in codes, label
        if method in ("post", "put", "patch", "delete") and path.startswith("/v1/"):
            assert {"413", "422", "503"} <= codes or path.startswith("/v1/uploads"), label
        if path.startswith(("/v1/", "/media/")) and method != "options":  # OPTIONS reads only settings
            assert "503" in codes, label
            retry = op["responses"]["503"]["headers"]["Retry-After"]
            assert retry["required"] is True, label
        if "429" in codes:
            assert op["responses"]["429"]["headers"]["Retry-After"]["required"] is True, label
        if any(p["in"] == "query" and p["name"] == "cursor" for p in params):
            assert "400" in codes, label
        for response in op["responses"].values():
            assert "X-Request-ID" in response.get("headers", {}), f"{label}: X-Request-ID"


async def test_idempotency_key_is_documented_with_its_rules(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    keyed = [(path, method, op) for path, method, op in _operations(spec)
             if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))]
    assert len(keyed) >= 20
    for path, method, op in keyed:
        label = f"{method.upper()} {path}"
        assert method in ("post", "put", "patch", "delete"), label
        param = next(p for p in op["parameters"] if p["name"] == "Idempotency-Key")
        assert param["in"] == "header" and param["schema"]["pattern"], label
        assert {"400", "409", "422"} <= set(op["responses"]), label
        success = [r for s, r in op["responses"].items() if s.startswith("2")]
        assert success and all("Idempotent-Replayed" in r["headers"] for r in success), label


async def test_tus_and_media_origin_document_their_headers(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    uploads = spec["paths"]["/v1/uploads/"]
    assert set(uploads["options"]["responses"]["204"]["headers"]) >= {"Tus-Version", "Tus-Max-Size", "Tus-Extension"}
    create = uploads["post"]
    assert {p["name"] for p in create["parameters"]} >= {"Tus-Resumable", "Upload-Length", "Upload-Metadata"}
    assert create["responses"]["201"]["headers"]["Location"]["required"] is True
    assert {"412", "413", "415", "460"} <= set(create["responses"])
    upload = spec["paths"]["/v1/uploads/{upload_id}"]
    assert {"head", "patch", "delete", "get", "post"} <= set(upload)  # post: X-HTTP-Method-Override
    assert upload["head"]["responses"]["200"]["headers"]["Upload-Offset"]["required"] is True
    assert {"409", "410", "423", "460"} <= set(upload["patch"]["responses"])
    for template in ("/media/{key}", "/media/s/{kid}/{expires}/{signature}/{key}"):
        media = spec["paths"][template]
        assert set(media) == {"get", "head"}
        responses = media["get"]["responses"]
        assert {"200", "206", "304", "404", "410", "416"} <= set(responses)
        assert responses["206"]["headers"]["Content-Range"]["required"] is True
        assert {"Range", "If-None-Match", "If-Range"} <= {p["name"] for p in media["get"]["parameters"]}


async def test_routes_documented_as_signed_in_only_refuse_anonymous_callers(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    checked = 0
    for path, method, op in _operations(spec):
        if not _requires_auth(op) or method == "head":
            continue
        headers = {"Tus-Resumable": "1.0.0"} if path.startswith("/v1/uploads") else {}
        response = await client.request(method.upper(), _filled(path), headers=headers)
        assert_problem(response, 401)
        checked += 1
    assert checked >= 50


async def test_a_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    for path, item in spec["paths"].items():
        documented = {m.upper() for m in item if m in METHODS}
        unused = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in documented)
        response = await client.request(unused, _filled(path), headers={"Tus-Resumable": "1.0.0"})
        label = f"{unused} {path}"
        assert_problem(response, 405)
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed - {"HEAD", "OPTIONS"} == documented - {"HEAD", "OPTIONS"}, label


async def test_a_405_on_a_clip_names_get_patch_and_delete(client: httpx.AsyncClient) -> None:
    """Starlette named only the first matching route's methods: ``Allow: GET``."""
    response = await client.put("/v1/clips/1")
    assert_problem(response, 405)
    assert set(response.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}


class _UsedUp(RateLimiter):
    """A limiter every caller has used up, as after a burst: each hit is refused."""

    async def hit(self, scope: str, subject: str, *, limit: int, per_seconds: int, cost: int = 1,
                  required: bool = False) -> None:
        raise RateLimited(f"too many {scope} requests", retry_after=60)


async def test_only_routes_documented_with_429_answer_it(client: httpx.AsyncClient, services: Any) -> None:
    """With every limit used up, plain valid requests to every route: a 429 must be documented."""
    spec = await _spec(client)
    world = await build_world(client, services)
    kept, services.limiter = services.limiter, _UsedUp(services.cache)
    limited: set[tuple[str, str]] = set()
    try:
        for token in (None, world.viewer.token):
            for operation in operations(spec):
                if operation.path.endswith("/stream"):
                    continue  # server-sent events: a valid request never ends
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                content = None
                if operation.path.startswith("/v1/uploads"):
                    headers |= {"Tus-Resumable": "1.0.0", "Upload-Length": "100", "Upload-Offset": "0",
                                "Content-Type": "application/offset+octet-stream"}
                    content = b"x" if operation.chunked else None
                response = await client.request(operation.method, operation.url(world), headers=headers,
                                                json=operation.body, content=content)
                if response.status_code == 429:
                    limited.add((operation.method.lower(), operation.path))
                    assert response.headers["retry-after"] == "60"
    finally:
        services.limiter = kept
    undocumented = [f"{method.upper()} {path}" for method, path in sorted(limited)
                    if "429" not in spec["paths"][path][method]["responses"]]
    assert not undocumented, f"answered 429 but do not say so: {undocumented}"
    assert len(limited) >= 10, f"the limiter was reached by only {sorted(limited)}"


async def test_a_control_character_in_a_path_is_a_404_before_any_route_reads_it(client: httpx.AsyncClient) -> None:
    for path in ("/v1/users/%00", "/v1/users/a%00b/followers", "/share/c/1%0A", "/media/clips/1/%7F.jpg"):
        assert_problem(await client.get(path), 404)
    assert_problem(await client.put("/v1/users/%00/follow"), 404)
