"""HTTP to other servers: signed GETs of their documents and signed POSTs to their inboxes.

Every URL a remote document names is checked before we connect (``checked_url``): https only,
and never an address of our own network, so a crafted actor cannot make the server fetch its
neighbours. Plain http on loopback addresses is allowed by ``federation_allow_http`` (tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from clipfeed import __version__
from clipfeed.core.errors import ClipfeedError
from clipfeed.federation.documents import ACTIVITY_JSON, LD_JSON
from clipfeed.federation.signatures import sign_request

if TYPE_CHECKING:
    from clipfeed.federation.keys import Signer
    from clipfeed.infra.db import Database
    from clipfeed.runtime.services import Services

MAX_DOCUMENT_BYTES = 1024 * 1024


class RemoteError(ClipfeedError):
    """A remote server could not be reached or answered with something we cannot use."""

    status, code, title = 502, "remote-server", "The other server did not answer usefully"


class RefusedUrl(RemoteError):
    status, code, title = 422, "refused-url", "Federation does not go to that address"


# One client (connection pool) per stack, keyed by its database (``Services`` is not hashable).
_CLIENTS: weakref.WeakKeyDictionary[Database, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def client(*, services: Services) -> httpx.AsyncClient:
    found = _CLIENTS.get(services.db)
    if found is None or found.is_closed:
        settings = services.settings
        limits = httpx.Limits(max_connections=settings.federation_delivery_concurrency * 2,
                              max_keepalive_connections=settings.federation_delivery_concurrency)
        found = httpx.AsyncClient(timeout=settings.federation_request_timeout_s, limits=limits,
                                  follow_redirects=False,
                                  headers={"User-Agent": f"Clipfeed/{__version__} (+{settings.base_url}/)"})
        _CLIENTS[services.db] = found
    return found


async def checked_url(url: str, *, services: Services) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise RefusedUrl(f"not a server URL: {url[:200]!r}")
    addresses = await _addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    loopback = bool(addresses) and all(address.is_loopback for address in addresses)
    if services.settings.federation_allow_http and loopback:
        return url
    if parts.scheme != "https":
        raise RefusedUrl(f"federation needs https: {url[:200]!r}")
    if any(not address.is_global for address in addresses):
        raise RefusedUrl(f"{host} is an address of a private network")
    return url


async def on_loopback(authority: str) -> bool:
    """Whether ``host[:port]`` names this machine (the only place plain http may go)."""
    host = urlsplit(f"//{authority}").hostname or ""
    try:
        addresses = await _addresses(host, 80)
    except RemoteError:
        return False
    return bool(addresses) and all(address.is_loopback for address in addresses)


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise RemoteError(f"cannot resolve {host}: {exc}") from exc
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def get_json(url: str, *, signer: Signer, services: Services, accept: str = ACTIVITY_JSON) -> dict[str, Any]:
    """A remote document, fetched with a signed GET (servers in authorized-fetch mode want one)."""
    url = await checked_url(url, services=services)
    headers = sign_request(method="GET", url=url, body=None, key_id=signer.key_id, private_key=signer.private_key,
                           headers={"Accept": f"{accept}, {LD_JSON}"})
    try:
        async with client(services=services).stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise RemoteError(f"{url[:200]} answered {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise RemoteError(f"{url[:200]} sent more than {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise RemoteError(f"cannot fetch {url[:200]}: {type(exc).__name__}") from exc
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise RemoteError(f"{url[:200]} did not send JSON") from exc
    if not isinstance(document, dict):
        raise RemoteError(f"{url[:200]} did not send a JSON object")
    return document


async def post(inbox: str, body: bytes, *, signer: Signer, services: Services) -> httpx.Response:
    """Deliver ``body`` to ``inbox``; raises ``httpx.HTTPError`` or ``RefusedUrl``."""
    inbox = await checked_url(inbox, services=services)
    headers = sign_request(method="POST", url=inbox, body=body, key_id=signer.key_id,
                           private_key=signer.private_key, headers={"Content-Type": ACTIVITY_JSON})
    return await client(services=services).post(inbox, content=body, headers=headers)
