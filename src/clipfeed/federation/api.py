"""ActivityPub and its discovery (thin routes): WebFinger, NodeInfo, host-meta, actors,
clips as objects, collections and inboxes. Outside the API document: other servers, not apps,
call them, in formats the fediverse fixed long ago."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from clipfeed.accounts import service as accounts
from clipfeed.core.errors import NotFound
from clipfeed.federation import documents, inbox, publish
from clipfeed.federation.documents import ACTIVITY_JSON
from clipfeed.http.deps import Deps
from clipfeed.social import follows


async def signed_fetch(request: Request, *, services: Deps) -> None:
    """Authorized fetch, when the instance asks for it (``inbox.check_signed_fetch``)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    await inbox.check_signed_fetch(services=services, target=target, headers=request.headers)


router = APIRouter(include_in_schema=False)
SignedFetch = Depends(signed_fetch)
UserId = Annotated[int, Path(ge=1, lt=2**63)]
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2.1"
CACHE = {"Cache-Control": "public, max-age=60"}


class ActivityJSON(JSONResponse):
    media_type = ACTIVITY_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


@router.get("/.well-known/webfinger")
async def webfinger(services: Deps, resource: Annotated[str, Query(max_length=600)]) -> JSONResponse:
    uris = publish.uris(services=services)
    user_id = uris.local_id(resource, "users")
    if user_id is not None:
        user = await publish.local_user(user_id, services=services)
    else:
        name, _, host = resource.removeprefix("acct:").lstrip("@").partition("@")
        if host.lower() != uris.host.lower():
            raise NotFound(f"{resource[:200]} is not an account of {uris.host}")
        user = await accounts.get_by_handle(db=services.db, handle=name)
        if user.domain is not None:
            raise NotFound(f"{resource[:200]} is not an account of {uris.host}")
    body = {"subject": f"acct:{user.handle}@{uris.host}",
            "aliases": [uris.actor(user.id), uris.profile_page(user.handle)],
            "links": [{"rel": "self", "type": ACTIVITY_JSON, "href": uris.actor(user.id)},
                      {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html",
                       "href": uris.profile_page(user.handle)}]}
    return JSONResponse(body, media_type="application/jrd+json", headers=CACHE)


@router.get("/.well-known/host-meta")
async def host_meta(services: Deps) -> Response:
    template = f"{publish.uris(services=services).base}/.well-known/webfinger?resource={{uri}}"
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">'
           f'<Link rel="lrdd" type="application/xrd+xml" template="{template}"/></XRD>\n')
    return Response(xml, media_type="application/xrd+xml", headers=CACHE)


@router.get("/.well-known/nodeinfo")
async def nodeinfo_links(services: Deps) -> JSONResponse:
    href = f"{publish.uris(services=services).base}/nodeinfo/2.1"
    return JSONResponse({"links": [{"rel": NODEINFO_SCHEMA, "href": href}]}, headers=CACHE)


@router.get("/nodeinfo/2.1")
async def nodeinfo(services: Deps) -> JSONResponse:
    return JSONResponse(await publish.nodeinfo(services=services),
                        media_type=f'application/json; profile="{NODEINFO_SCHEMA}#"', headers=CACHE)


@router.get("/ap/actor")
async def instance_actor(services: Deps) -> ActivityJSON:
    return ActivityJSON(await publish.instance_actor(services=services), headers=CACHE)


@router.get("/ap/users/{user_id}", dependencies=[SignedFetch])
async def actor(services: Deps, user_id: UserId) -> ActivityJSON:
    user = await publish.local_user(user_id, services=services)
    return ActivityJSON(await publish.person(user, services=services), headers=CACHE)


@router.get("/ap/handles/{handle}", dependencies=[SignedFetch])
async def actor_by_handle(services: Deps, handle: Annotated[str, Path(max_length=40)]) -> ActivityJSON:
    """``/@handle`` asked for as ActivityPub (``negotiation.ActivityPubPaths`` routes it here)."""
    user = await accounts.get_by_handle(db=services.db, handle=handle)
    if user.domain is not None:
        raise NotFound(f"no user @{handle}")
    return ActivityJSON(await publish.person(user, services=services), headers=CACHE)


@router.get("/ap/users/{user_id}/{collection}", dependencies=[SignedFetch])
async def actor_collection(services: Deps, user_id: UserId, collection: str) -> ActivityJSON:
    user = await publish.local_user(user_id, services=services)
    uri = f"{publish.uris(services=services).actor(user.id)}/{collection}"
    if collection in ("followers", "following"):
        # Counts only: who follows whom stays on this server (Mastodon's "hide network").
        counts = (await follows.follow_counts(db=services.db, user_ids=[user.id])).get(user.id, (0, 0))
        return ActivityJSON(documents.collection(uri, total=counts[0] if collection == "followers" else counts[1]))
    if collection == "outbox":
        return ActivityJSON(await publish.outbox(user, services=services))
    if collection == "featured":
        return ActivityJSON(documents.collection(uri, total=0, items=[]))
    raise NotFound(f"no collection {collection[:40]}")


@router.get("/ap/clips/{clip_id}", dependencies=[SignedFetch])
async def clip_object(services: Deps, clip_id: UserId) -> ActivityJSON:
    clip = await publish.public_clip(clip_id, services=services)
    return ActivityJSON(await publish.video(clip, services=services), headers=CACHE)


@router.get("/ap/comments/{comment_id}", dependencies=[SignedFetch])
async def comment_object(services: Deps, comment_id: UserId) -> ActivityJSON:
    return ActivityJSON(await publish.comment_note(comment_id, services=services), headers=CACHE)


@router.post("/ap/users/{user_id}/inbox", status_code=202)
async def user_inbox(request: Request, services: Deps, user_id: UserId) -> Response:
    await inbox.recipient(user_id, services=services)
    await _receive(request, services=services, recipient_id=user_id)
    return Response(status_code=202)


@router.post("/ap/inbox", status_code=202)
async def shared_inbox(request: Request, services: Deps) -> Response:
    await _receive(request, services=services, recipient_id=None)
    return Response(status_code=202)


async def _receive(request: Request, *, services: Any, recipient_id: int | None) -> None:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    await inbox.receive(services=services, recipient_id=recipient_id, method=request.method, target=target,
                        headers=request.headers, body=await request.body())
