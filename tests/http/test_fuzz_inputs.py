"""Our own fuzzing pass over what schemathesis rarely makes: hostile values in every path
parameter, in the headers we read, and in forged cursors, for every route of the OpenAPI document,
anonymously and signed in. Any 5xx, or a request the app fails to answer, is a failure.

Each test sends every case and then lists every failing one (method, URL, header, status), so one
run shows the whole picture; see docs/notes/api-fuzzing.md.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import structlog

from clipfeed.api import create_app
from tests.conftest import stack_settings
from tests.http.routes import Operation, World, build_world, operations

pytestmark = pytest.mark.timeout(600)

# Values a client can put where we expect an ID, a count or a token.
HOSTILE: dict[str, str] = {
    "superscript two": "²", "arabic-indic three": "٣", "full-width one": "１", "devanagari five": "५",
    "2^63": str(2**63), "2^64": str(2**64), "30 nines": "9" * 30, "negative": "-1", "zero": "0",
    "plus sign": "+1", "underscore digits": "1_000", "exponent": "1e3", "hex": "0x10", "spaced": " 1 ",
    "NUL": "\x00", "escaped NUL": "%00", "10 kB": "7" * 10_240, "10 kB letters": "a" * 10_240,
    "handle-like": "@nobody", "dot dot": "..", "slashes": "a/b", "emoji": "\U0001f600",
}
# The subset the real stack (PostgreSQL's bigint, Redis keys, NATS subjects) gets as well.
REAL_SUBSET = ("superscript two", "2^63", "2^64", "30 nines", "negative", "NUL", "10 kB")
# Cursor fields a list may read; a forged cursor sets them all.
CURSOR_KEYS = ("before", "after", "likes", "score", "n", "s", "offset", "id")
CURSOR_VALUES: dict[str, Any] = {
    **{label: value for label, value in HOSTILE.items()}, "int 2^63": 2**63, "int 2^64": 2**64,
    "int 10^30": 10**30, "int -1": -1, "float 1e308": 1e308, "float -0.5": -0.5, "list": [1], "object": {"a": 1},
    "null": None, "true": True,
}
RAW_CURSORS = {"not base64": "%%%", "JSON list": "WzFd", "JSON number": "MQ", "JSON null": "bnVsbA",
               "bad padding": "e30===", "superscript": "²", "NUL": "\x00", "10 kB": "A" * 10_240}
# Headers the app reads, by the routes they matter to ("" = every route).
HEADERS: dict[str, str] = {
    "Authorization": "", "Idempotency-Key": "", "X-Request-ID": "", "X-Device-ID": "/v1/feed",
    "X-Network-Type": "/v1/feed", "Tus-Resumable": "/v1/uploads", "Upload-Offset": "/v1/uploads",
    "Upload-Length": "/v1/uploads", "Upload-Defer-Length": "/v1/uploads", "Upload-Checksum": "/v1/uploads",
    "Upload-Concat": "/v1/uploads", "Upload-Metadata": "/v1/uploads", "X-HTTP-Method-Override": "/v1/uploads",
    "Range": "/media", "If-Range": "/media", "If-None-Match": "/media", "If-Modified-Since": "/media",
}
SKIPPED_PATHS = ("/stream",)  # server-sent events never end for a valid request: probed by path only
# Headers every route reads through the same code (the bearer token, the request ID): sent to one
# route of each kind rather than to all of them, to keep the run short.
SHARED_HEADERS = ("Authorization", "X-Request-ID")


@pytest.fixture
def settings(stack, tmp_path, request):
    """Rate limits and quotas out of the way: a request they refuse never reaches the code that
    reads the hostile value."""
    return stack_settings(stack, tmp_path, request, upload_max_concurrent=100_000, upload_create_rate_per_hour=100_000,
                          social_comment_rate_per_minute=100_000, social_write_rate_per_minute=100_000)


@pytest.fixture(autouse=True, scope="module")
def plain_tracebacks() -> Iterator[None]:
    """Log a 500's traceback as plain text. structlog's default renders it with rich, locals
    included, which took ~40 s per 500 here (the app object is among the locals)."""
    previous = structlog.get_config()
    renderer = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    structlog.configure(processors=[structlog.processors.add_log_level, renderer])
    yield
    structlog.configure(**previous)


class Prober:
    """Sends requests and keeps every one answered with a 5xx or not answered at all."""

    def __init__(self, app: Any, world: World, token: str | None) -> None:
        # The app's own exceptions come back as the 500 the client would see, not raised here.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://test")
        self.world, self.token = world, token
        self.failures: list[str] = []
        self.sent = 0

    async def send(self, operation: Operation, url: str, what: str, headers: dict[str, str] | None = None) -> None:
        sent_headers = {"Tus-Resumable": "1.0.0"} if operation.path.startswith("/v1/uploads") else {}
        if self.token:
            sent_headers["Authorization"] = f"Bearer {self.token}"
        sent_headers.update(headers or {})
        body = json.dumps(operation.body).encode() if operation.body is not None else None
        if body is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        elif operation.chunked:  # tus: one byte at the offset, so the offset and length get read
            body = b"x"
            sent_headers.setdefault("Content-Type", "application/offset+octet-stream")
            sent_headers.setdefault("Upload-Offset", "0")
            if operation.method == "POST" and operation.path.endswith("{upload_id}"):
                sent_headers.setdefault("X-HTTP-Method-Override", "PATCH")
            if operation.path.endswith("/uploads/"):  # a creation: longer than the byte sent, so it stays open
                sent_headers.setdefault("Upload-Length", "100")
        self.sent += 1
        label = f"{operation.method} {url[:120]} ({what})"
        try:
            response = await asyncio.wait_for(self.http.request(
                operation.method, url, headers={k: _wire(v) for k, v in sent_headers.items()}, content=body), 20)
        except Exception as exc:  # the client would see its connection dropped or hanging
            self.failures.append(f"{label}: no answer ({type(exc).__name__}: {str(exc)[:80]})")
            return
        if response.status_code >= 500:
            self.failures.append(f"{label}: {response.status_code} {response.text[:160]}")

    def report(self) -> str:
        return f"{len(self.failures)} of {self.sent} requests failed:\n" + "\n".join(self.failures)


async def _prober(client: httpx.AsyncClient, services: Any, signed_in: bool) -> tuple[Prober, dict[str, Any]]:
    world = await build_world(client, services)
    spec = (await client.get("/openapi.json")).json()
    app = create_app(services=services)
    return Prober(app, world, world.viewer.token if signed_in else None), spec


async def _path_parameters(prober: Prober, spec: dict[str, Any], values: dict[str, str]) -> None:
    for operation in operations(spec):
        for param in operation.params:
            is_id_query = param["in"] == "query" and param["name"].endswith(("_id", "_ids"))
            if param["in"] != "path" and not is_id_query:
                continue
            for label, value in values.items():
                if is_id_query:
                    url = operation.url(prober.world, query=f"{param['name']}={quote(value, safe='')}")
                else:
                    url = operation.url(prober.world, (param["name"], value))
                await prober.send(operation, url, f"{param['name']} = {label}")


async def _cursors(prober: Prober, spec: dict[str, Any], values: dict[str, Any]) -> None:
    forged = {label: _forge(value) for label, value in values.items()}
    for operation in operations(spec):
        names = {p["name"] for p in operation.params if p["in"] == "query"}
        if "cursor" not in names:
            continue
        # Lists that read their cursor differently by order or tab get each of them.
        extras = [""] + [f"&{name}={choice}" for name, choice in (("sort", "top"), ("sort", "oldest"),
                                                                  ("tab", "following")) if name in names]
        for label, cursor in {**forged, **RAW_CURSORS}.items():
            for extra in extras:
                url = operation.url(prober.world, query=f"cursor={quote(cursor, safe='')}{extra}")
                await prober.send(operation, url, f"cursor {label}{extra}")


def _wire(value: str) -> bytes:
    """Header bytes as a client may send them. Servers read header bytes as Latin-1, so '²' sent
    as the one byte 0xB2 arrives as '²' (which ``str.isdigit`` accepts and ``int`` refuses);
    what Latin-1 cannot hold goes as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


def _reads(operation: Operation, header: str) -> bool:
    """Whether sending ``header`` to ``operation`` probes code of its own."""
    if header == "Idempotency-Key":
        return any(p["name"] == header for p in operation.params)
    if header in SHARED_HEADERS:
        return "{" not in operation.path or operation.path.startswith(("/v1/uploads", "/media"))
    return True


def _forge(value: Any) -> str:
    """A cursor as the API encodes one, with ``value`` in every field a list may read (an
    overlong value in one field only, to keep the URL under the client's limit)."""
    keys = CURSOR_KEYS[:1] if isinstance(value, str) and len(value) > 1000 else CURSOR_KEYS
    raw = json.dumps({key: value for key in keys}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


SIGNED_IN = pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed_in"])
EMBEDDED = pytest.mark.parametrize("stack", ["embedded"], indirect=True)


@EMBEDDED
@SIGNED_IN
async def test_hostile_path_parameters_never_give_a_5xx(client, services, signed_in: bool) -> None:
    prober, spec = await _prober(client, services, signed_in)
    await _path_parameters(prober, spec, HOSTILE)
    assert prober.sent > 1000
    assert not prober.failures, prober.report()


@EMBEDDED
@SIGNED_IN
async def test_forged_cursors_never_give_a_5xx(client, services, signed_in: bool) -> None:
    prober, spec = await _prober(client, services, signed_in)
    await _cursors(prober, spec, CURSOR_VALUES)
    assert prober.sent > 500
    assert not prober.failures, prober.report()


@EMBEDDED
@SIGNED_IN
async def test_hostile_headers_never_give_a_5xx(client, services, signed_in: bool) -> None:
    prober, spec = await _prober(client, services, signed_in)
    metadata = {label: f"filename {base64.b64encode(b'a.mp4').decode()},clip_id "
                       f"{base64.b64encode(value.encode()).decode()}" for label, value in HOSTILE.items()}
    for operation in operations(spec):
        if operation.path.endswith(SKIPPED_PATHS):
            continue
        url = operation.url(prober.world)
        for header, scope in HEADERS.items():
            if not operation.path.startswith(scope) or not _reads(operation, header):
                continue
            for label, value in HOSTILE.items():
                sent = f"Bearer {value}" if header == "Authorization" else value
                sent = f"final;/v1/uploads/{value}" if header == "Upload-Concat" else sent
                sent = f"bytes={value}-" if header == "Range" else sent
                await prober.send(operation, url, f"{header}: {label}", {header: sent})
            if header == "Upload-Metadata":
                for label, value in metadata.items():
                    await prober.send(operation, url, f"metadata clip_id {label}", {header: value})
    assert prober.sent > 1000
    assert not prober.failures, prober.report()


@pytest.mark.parametrize("stack", ["real"], indirect=True)
async def test_hostile_ids_and_cursors_on_the_real_stack(client, services) -> None:
    prober, spec = await _prober(client, services, True)
    await _path_parameters(prober, spec, {label: HOSTILE[label] for label in REAL_SUBSET})
    await _cursors(prober, spec, {label: CURSOR_VALUES[label] for label in ("2^64", "int 2^64", "int 10^30", "NUL")})
    assert prober.sent > 500
    assert not prober.failures, prober.report()
