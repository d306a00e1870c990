"""``POST /v1/events``: batched client playback events."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from clipfeed.core.errors import BadRequest, Invalid, PayloadTooLarge, Unauthorized
from clipfeed.core.viewers import ViewerId
from clipfeed.events import service
from clipfeed.events.models import ClientEvent, IngestResult
from clipfeed.http.deps import ClientIp, Deps, OptionalUser

router = APIRouter(prefix="/v1", tags=["events"])
DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
REGION = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class EventBatch(BaseModel):
    events: list[ClientEvent] = Field(description="up to CLIPFEED_EVENTS_MAX_BATCH events")


# The body is parsed by hand (each bad event is reported, not the whole batch refused), so its
# schema is given here; its $defs stay inside it, and refs point there from the document's root
# (a plain model_json_schema() points at "#/$defs/...", which no OpenAPI tool resolves).
BATCH_SCHEMA_AT = "#/paths/~1v1~1events/post/requestBody/content/application~1json/schema"
BATCH_SCHEMA = EventBatch.model_json_schema(ref_template=BATCH_SCHEMA_AT + "/$defs/{model}")


@router.post("/events", response_model=IngestResult, openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": BATCH_SCHEMA}}}})
async def post_events(request: Request, viewer: OptionalUser, services: Deps, ip: ClientIp) -> IngestResult:
    """Accepts the valid events of a batch and reports each refused one (docs/api/events.md).
    Anonymous viewers identify with ``X-Device-Id``."""
    settings = services.settings
    if viewer is not None:
        who = ViewerId.signed_in(viewer.id)
    else:
        device = request.headers.get("x-device-id", "")
        if not settings.events_allow_anonymous or not DEVICE_ID.match(device):
            raise Unauthorized("sign in, or send an X-Device-Id header (8-64 letters, digits, '-', '_')",
                               headers={"WWW-Authenticate": 'Bearer realm="clipfeed"'})
        who = ViewerId.anonymous(device)
        await services.limiter.hit("events-ip", ip, limit=4 * settings.events_rate_per_minute, per_seconds=60)
    await services.limiter.hit("events", who.key, limit=settings.events_rate_per_minute, per_seconds=60)
    raw_events = _parse(await request.body(), settings.events_max_batch)
    return await service.ingest(services=services, raw_events=raw_events, viewer=who,
                                region=_region(request, settings.events_region_header, settings.region))


def _parse(body: bytes, max_batch: int) -> list[Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("the body is not valid JSON") from exc
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        raise Invalid('send {"events": [...]}')
    if len(events) > max_batch:
        raise PayloadTooLarge(f"at most {max_batch} events per batch, got {len(events)}")
    return events


def _region(request: Request, header: str, default: str) -> str:
    """The viewer's region from the edge's header when one is configured (and sane)."""
    if header:
        value = request.headers.get(header, "").strip().lower()
        if REGION.match(value):
            return value
    return default
