"""Path and query parameters that carry IDs, declared once for every route.

Each one runs ``core.identifiers`` before FastAPI's own integer parsing, so ``²``, ``1_000``,
`` 12`` or a 20-digit number is a 422 problem, never a value handed to the database.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator

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
