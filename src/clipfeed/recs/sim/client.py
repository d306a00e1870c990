"""What a simulated viewer's app sends and reads, over HTTP only (the routes the web app uses)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

SKIP_BEFORE_MS = 2000  # as the web app (web/src/lib/feed/events.ts): leaving earlier is a skip


@dataclass(frozen=True)
class ClipCard:
    """A clip as any client sees it: no topic, no quality."""

    id: int
    owner_id: int
    hashtags: tuple[str, ...]
    caption: str
    duration_ms: int

    @classmethod
    def from_public(cls, clip: dict[str, Any]) -> ClipCard:
        return cls(id=int(clip["id"]), owner_id=int(clip["owner_id"]), hashtags=tuple(clip["hashtags"]),
                   caption=clip["caption"], duration_ms=int(clip.get("duration_ms") or 0))


@dataclass
class Account:
    """One simulated viewer's signed-in app."""

    number: int
    user_id: int
    token: str
    refused: int = 0             # requests the server refused (4xx/5xx)
    seen: set[int] = field(default_factory=set)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Device-Type": "web"}


async def register(http: httpx.AsyncClient, *, number: int, prefix: str) -> Account:
    body = {"handle": f"{prefix}v{number}", "email": f"{prefix}v{number}@example.com",
            "password": "simulated viewer pw"}
    response = await http.post("/v1/auth/register", json=body)
    response.raise_for_status()
    pair = response.json()
    return Account(number=number, user_id=int(pair["user"]["id"]), token=pair["access_token"])


def _checked(account: Account, response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        account.refused += 1
    return response


async def foryou_page(http: httpx.AsyncClient, account: Account, cursor: str | None,
                      limit: int) -> tuple[list[ClipCard], str | None, str]:
    params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
    response = _checked(account, await http.get("/v1/feed", params=params, headers=account.headers))
    if response.status_code >= 400:
        return [], None, "error"
    page = response.json()
    return [ClipCard.from_public(item["clip"]) for item in page["items"]], page["next_cursor"], page["served_by"]


def playback_events(clip: ClipCard, *, watched_ms: int, completed: bool, session_id: str,
                    source: str) -> list[dict[str, Any]]:
    """The events the web app queues for one viewing: the impression, the first play, then a
    completion, a skip when the viewer left within two seconds, or else the watch time in the
    play's last report, which says the viewer moved on (``ended``)."""
    now = int(time.time() * 1000)

    def event(kind: str, **fields: Any) -> dict[str, Any]:
        return {"event_id": uuid.uuid4().hex, "type": kind, "clip_id": str(clip.id), "ts": now,
                "session_id": session_id, "device": "web", "source": source,
                "duration_ms": clip.duration_ms, **fields}

    events = [event("impression"), event("play_start")]
    if completed:
        events.append(event("complete", watch_ms=watched_ms))
    elif watched_ms < SKIP_BEFORE_MS:
        events.append(event("skip", position_ms=watched_ms, watch_ms=watched_ms))
    else:
        events.append(event("progress", watch_ms=watched_ms, position_ms=watched_ms, ended=True))
    for extra in events[:1]:  # an impression carries no timing
        extra.pop("duration_ms")
    return events


async def send_events(http: httpx.AsyncClient, account: Account, events: list[dict[str, Any]]) -> int:
    """Posts one viewing's events; the number the server accepted (a refused one counts)."""
    response = _checked(account, await http.post("/v1/events", json={"events": events}, headers=account.headers))
    if response.status_code >= 400:
        return 0
    result = response.json()
    account.refused += len(result.get("rejected", []))
    return int(result["accepted"])


async def like(http: httpx.AsyncClient, account: Account, clip_id: int) -> None:
    _checked(account, await http.put(f"/v1/clips/{clip_id}/like", headers=account.headers))


async def follow(http: httpx.AsyncClient, account: Account, user_id: int) -> None:
    _checked(account, await http.put(f"/v1/users/{user_id}/follow", headers=account.headers))


async def clip(http: httpx.AsyncClient, clip_id: int) -> ClipCard | None:
    response = await http.get(f"/v1/clips/{clip_id}")
    return ClipCard.from_public(response.json()) if response.status_code == 200 else None
