"""What the HTTP tests that walk every route of the OpenAPI document share: a world of real
objects to point path parameters at, and each operation with a plain valid body."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from tests.helpers import Account, signup
from tests.social.support import ready_clip

# Signing out (or deleting the account) would turn the rest of a signed-in run into an anonymous one;
# they take no path parameter, cursor or header of their own.
SESSION_ENDERS = {("post", "/v1/auth/logout"), ("delete", "/v1/me")}


@dataclass
class World:
    """Real objects, so that the other parameters of a route are valid and the hostile one is
    what the route has to cope with."""

    owner: Account
    viewer: Account
    clip_id: str
    comment_id: str
    upload_id: str

    def value(self, name: str) -> str:
        return {"clip_id": self.clip_id, "comment_id": self.comment_id, "upload_id": self.upload_id,
                "handle": self.owner.handle, "user_ref": self.owner.handle,
                "key": f"clips/{self.clip_id}/hls/master.m3u8", "kid": "dev", "expires": "4102444800",
                "signature": "x"}.get(name, "1")


async def build_world(client: httpx.AsyncClient, services: Any) -> World:
    owner, viewer = await signup(client, "fuzz_owner"), await signup(client, "fuzz_viewer")
    clip_id = await ready_clip(client, services, owner, caption="fuzz me #fuzz")
    await services.blobs.put(f"clips/{clip_id}/hls/master.m3u8", b"#EXTM3U\n")
    comment = await client.post(f"/v1/clips/{clip_id}/comments", headers=viewer.auth, json={"body": "hello"})
    assert comment.status_code == 201, comment.text
    upload = await client.post("/v1/uploads/", headers={**viewer.auth, "Tus-Resumable": "1.0.0",
                                                        "Upload-Length": "100"})
    assert upload.status_code == 201, upload.text
    return World(owner, viewer, clip_id, str(comment.json()["id"]), upload.headers["location"].rsplit("/", 1)[1])


def plain_body(schema: dict[str, Any], spec: dict[str, Any], depth: int = 0) -> Any:
    """A plain value of ``schema`` (required fields only), so a body passes validation and the
    request reaches the code that reads the hostile parameter."""
    if "$ref" in schema:
        return plain_body(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], spec, depth)
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            return plain_body(schema[combined][0], spec, depth)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object" and depth < 4:
        return {name: plain_body(schema["properties"][name], spec, depth + 1) for name in schema.get("required", [])
                if name in schema.get("properties", {})}
    return {"string": "fuzz", "integer": 1, "number": 1, "boolean": True, "array": []}.get(kind, {})


@dataclass
class Operation:
    method: str
    path: str
    params: list[dict[str, Any]]
    body: Any
    chunked: bool = False

    def url(self, world: World, hostile: tuple[str, str] | None = None, query: str = "") -> str:
        path = self.path
        for param in self.params:
            if param["in"] == "path":
                name = param["name"]
                raw = hostile[1] if hostile and hostile[0] == name else world.value(name)
                path = path.replace("{" + name + "}", quote(raw, safe="/" if name == "key" else ""))
        return path + (f"?{query}" if query else "")


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "put", "post", "delete", "patch", "head") or (method, path) in SESSION_ENDERS:
                continue
            body = None
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = plain_body(content["application/json"].get("schema", {}), spec)
            yield Operation(method.upper(), path, op.get("parameters", []), body,
                            chunked="application/offset+octet-stream" in content)
