"""Domain errors. Services raise these; the HTTP layer turns them into RFC 9457 problem+json
(``clipfeed.http.problems``), workers log them. No framework is imported here."""

from __future__ import annotations

from typing import Any, ClassVar


class ClipfeedError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str = "", *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra


class Invalid(ClipfeedError):
    status, code, title = 422, "invalid", "The request is not valid"


class BadRequest(ClipfeedError):
    status, code, title = 400, "bad-request", "Bad request"


class Unauthorized(ClipfeedError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(ClipfeedError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(ClipfeedError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(ClipfeedError):
    status, code, title = 409, "conflict", "Conflict with the current state"


class Gone(ClipfeedError):
    status, code, title = 410, "gone", "No longer available"


class PayloadTooLarge(ClipfeedError):
    status, code, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(ClipfeedError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class RateLimited(ClipfeedError):
    status, code, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str = "", *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))}, **extra)


class Unavailable(ClipfeedError):
    """A dependency (database, cache, log) is down: clients should retry later."""

    status, code, title = 503, "unavailable", "Service temporarily unavailable"

    def __init__(self, detail: str = "", *, retry_after: int = 5, **extra: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **extra)


class StorageFull(ClipfeedError):
    """A disk or the object store has no room left: nothing was stored past the last durable
    point; the same request succeeds once an operator has made room."""

    status, code, title = 507, "insufficient-storage", "Insufficient storage"

    def __init__(self, detail: str = "", *, retry_after: int = 60, **extra: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **extra)


_FULL_ERRNOS = {28, 122}  # ENOSPC, EDQUOT (Linux numbers; errno is not imported to keep this module plain)
_FULL_MESSAGES = ("no space left on device", "database or disk is full", "disk quota exceeded")


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an error behind it, says a disk or store is full: an ``OSError``
    (ENOSPC, EDQUOT), SQLite's "database or disk is full", PostgreSQL's ``disk_full``
    (SQLSTATE 53100), an object store's ``InsufficientStorage``, or FFmpeg's message."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, StorageFull):
            return True
        if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
            return True
        if getattr(error, "sqlstate", None) == "53100":
            return True
        response = getattr(error, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code") in ("InsufficientStorage", "507"):
            return True
        if any(message in str(error).lower() for message in _FULL_MESSAGES):
            return True
        orig = getattr(error, "orig", None)  # SQLAlchemy's wrapper of the driver's error
        pending += [error.__cause__, error.__context__, orig if isinstance(orig, BaseException) else None]
    return False
