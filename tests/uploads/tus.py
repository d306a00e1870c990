"""A few tus requests spelled out with httpx, for protocol tests (real clients live elsewhere)."""

from __future__ import annotations

import base64
import hashlib

import httpx

from tests.services import shared_media

MEDIA = shared_media()
SAMPLE = MEDIA / "bigbuckbunny.mp4"
BAD = MEDIA / "bad"
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def upload_id(response: httpx.Response) -> str:
    return response.headers["location"].rstrip("/").rsplit("/", 1)[1]


async def create(client: httpx.AsyncClient, auth: dict[str, str], length: int | None, **meta: str) -> httpx.Response:
    headers = {**TUS, **auth}
    if length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(length)
    if meta:
        headers["Upload-Metadata"] = metadata(**meta)
    return await client.post("/v1/uploads/", headers=headers)


async def patch(client: httpx.AsyncClient, auth: dict[str, str], uid: str, offset: int, data: bytes,
                **extra: str) -> httpx.Response:
    headers = {**TUS, **OCTETS, **auth, "Upload-Offset": str(offset)}
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    return await client.patch(f"/v1/uploads/{uid}", headers=headers, content=data)


async def head(client: httpx.AsyncClient, auth: dict[str, str], uid: str) -> httpx.Response:
    return await client.head(f"/v1/uploads/{uid}", headers={**TUS, **auth})


async def send_all(client: httpx.AsyncClient, auth: dict[str, str], data: bytes, *, chunk: int = 256 * 1024,
                   **meta: str) -> tuple[str, httpx.Response]:
    """Create an upload and send ``data`` in chunks; the last PATCH's response."""
    created = await create(client, auth, len(data), **meta)
    assert created.status_code == 201, created.text
    uid = upload_id(created)
    response = created
    for start in range(0, len(data), chunk) or [0]:
        response = await patch(client, auth, uid, start, data[start:start + chunk])
        if response.status_code != 204:
            break
    return uid, response


def checksum(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"
