"""Feed arms: For You served by the server, and the interface client-side baselines share."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from clipfeed.recs.sim import client
from clipfeed.recs.sim.client import Account, ClipCard

PAGE = 10


class Arm(Protocol):
    """One feed a simulated viewer pages through."""

    name: str

    async def catalogue_grew(self, http: httpx.AsyncClient, clip_ids: list[int]) -> None:
        """New clips were published (a client arm reads them over HTTP)."""

    async def page(self, http: httpx.AsyncClient, account: Account, cursor: str | None,
                   session_id: str) -> tuple[list[ClipCard], str | None, str]:
        """The next page: clips, the cursor for the page after, and what served it."""

    def observe(self, account: Account, card: ClipCard, events: list[dict[str, Any]], *, liked: bool,
                session_id: str) -> None:
        """What this viewer's app just sent about ``card`` (the events, and a like)."""


class ForYou:
    """``GET /v1/feed``: the server ranks; it learns from the events the viewers post."""

    name = "foryou"

    async def catalogue_grew(self, http: httpx.AsyncClient, clip_ids: list[int]) -> None:
        return None

    async def page(self, http: httpx.AsyncClient, account: Account, cursor: str | None,
                   session_id: str) -> tuple[list[ClipCard], str | None, str]:
        return await client.foryou_page(http, account, cursor, PAGE)

    def observe(self, account: Account, card: ClipCard, events: list[dict[str, Any]], *, liked: bool,
                session_id: str) -> None:
        return None
