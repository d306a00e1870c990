"""The purge agent: a tiny HTTP service beside each nginx edge that deletes cached objects.

Debian's nginx-light has no purge module, so purging works on the cache files themselves:
nginx stores each response in a file that starts with a binary header followed by a
``KEY: <cache key>`` line, and treats a file that has vanished as a miss. The agent scans the
cache folder, reads each file's first bytes and removes those whose key (``p:`` or ``s:``
followed by the blob key) starts with a purged prefix. A scan reads about 4 KiB per cached
object, so a purge of a cache holding a million objects reads a few GiB; edges sized for
short-video libraries hold far fewer hot objects, and purges are rare (takedowns, visibility
changes).

Requests are ``POST /_edge/purge`` with a JSON body ``{"prefixes": [...], "issued_at": epoch}``
and ``X-Clipfeed-Signature: hex(HMAC-SHA256(secret, body))``; requests older than five minutes
are refused, so a captured request cannot be replayed later (replaying a purge would be
harmless anyway, beyond a few cache misses).

    python -m clipfeed.delivery.purge_agent --cache-dir DIR --port PORT   (secret in CLIPFEED_EDGE_PURGE_SECRET)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import time
from collections.abc import Iterable
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_AGE_S = 300
HEADER_BYTES = 4096
SIGNATURE_HEADER = "x-clipfeed-signature"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def cache_key_of(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEADER_BYTES)
    except OSError:
        return None
    start = head.find(b"\nKEY: ")
    if start < 0:
        return None
    end = head.find(b"\n", start + 6)
    return head[start + 6:end if end > 0 else None].decode("utf-8", "replace")


def remove_matching(cache_dir: Path, prefixes: Iterable[str]) -> int:
    """Delete the cache files whose object key starts with one of ``prefixes``."""
    wanted = tuple(prefixes)
    removed = 0
    for folder, _dirs, files in os.walk(cache_dir):
        for name in files:
            path = Path(folder) / name
            key = cache_key_of(path)
            if key is None or ":" not in key:
                continue
            if key.split(":", 1)[1].startswith(wanted):
                try:
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
    return removed


def create_agent(cache_dir: Path, secret: str) -> Starlette:
    async def purge(request: Request) -> JSONResponse:
        body = await request.body()
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not secret or not hmac.compare_digest(sign(secret, body), given):
            return JSONResponse({"error": "bad signature"}, status_code=403)
        try:
            order = orjson.loads(body)
            prefixes = [str(p) for p in order["prefixes"]]
            issued = float(order["issued_at"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "expected {prefixes, issued_at}"}, status_code=400)
        if abs(time.time() - issued) > MAX_AGE_S:
            return JSONResponse({"error": "stale purge request"}, status_code=403)
        if not prefixes or any(not p.startswith("clips/") for p in prefixes):
            return JSONResponse({"error": "prefixes must start with clips/"}, status_code=400)
        removed = await asyncio.to_thread(remove_matching, cache_dir, prefixes)
        return JSONResponse({"removed": removed})

    return Starlette(routes=[Route("/_edge/purge", purge, methods=["POST"])])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Clipfeed edge purge agent")
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    secret = os.environ.get("CLIPFEED_EDGE_PURGE_SECRET", "")
    if not secret:
        raise SystemExit("set CLIPFEED_EDGE_PURGE_SECRET")
    uvicorn.run(create_agent(args.cache_dir, secret), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
