"""Path and query parameters that carry IDs, declared once for every route.

Each one runs ``core.identifiers`` before FastAPI's own integer parsing, so ``²``, ``1_000``,
`` 12`` or a 20-digit number is a 422 problem, never a value handed to the database.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from clipfeed.core.identifiers import MAX_ID, USER_REF_PATTERN, parse_id, parse_user_ref


def _user_ref(text: str) -> str:
    parse_user_ref(text)
    return text


def _id_path(what: str) -> Any:
    return Path(ge=1, le=MAX_ID, description=f"{what} ID")


ClipId = Annotated[int, _id_path("clip"), BeforeValidator(parse_id)]
CommentId = Annotated[int, _id_path("comment"), BeforeValidator(parse_id)]
CaseId = Annotated[int, _id_path("moderation case"), BeforeValidator(parse_id)]
NotificationId = Annotated[int, _id_path("notification"), BeforeValidator(parse_id)]
BlocklistEntryId = Annotated[int, _id_path("blocklist entry"), BeforeValidator(parse_id)]
UploadId = Annotated[int, _id_path("upload"), BeforeValidator(parse_id)]
UserRef = Annotated[str, Path(min_length=1, max_length=31, pattern=USER_REF_PATTERN,
                               description="user ID, or handle (@handle)"),
                    AfterValidator(_user_ref)]
CaseIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="moderation case ID"),
                        BeforeValidator(lambda v: None if v is None else parse_id(v))]


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(value: object) -> date | None:
    """A calendar day written ``YYYY-MM-DD`` and nothing else: pydantic's own date parsing also
    takes ``0`` or ``1700000000`` (seconds since 1970), which the schema's ``format: date`` does
    not allow."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("a day is written YYYY-MM-DD (a real date, years 0001 to 9999)")


Day = Annotated[date | None, BeforeValidator(parse_day)]


_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
                     r"(?:[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?)?")
_CALENDAR = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def parse_moment(value: object) -> datetime | None:
    """An instant in UTC from an RFC 3339 date-time or a ``YYYY-MM-DD`` day (its midnight); a
    time without a zone is read as UTC. Like ``parse_day``, no seconds since the epoch. An
    instant an offset shifts past year 1 or 9999 is held at the calendar's end."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _MOMENT.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("not a real date and time") from None
    else:
        raise ValueError("a date and time is written YYYY-MM-DDThh:mm:ssZ (or with an offset), or a day YYYY-MM-DD")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return _CALENDAR[0] if moment.year == 1 else _CALENDAR[1]


Moment = Annotated[datetime, BeforeValidator(parse_moment),
                   WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"},
                                             {"type": "string", "format": "date"}]})]
