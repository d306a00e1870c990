"""NATS exceptions turned into the port's own, so none escapes the JetStream adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import nats.errors
import nats.js.errors

from clipfeed.core.errors import ClipfeedError, Conflict, Invalid, NotFound, Unavailable


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Run a block of NATS calls, re-raising NATS failures as ``clipfeed.core.errors``."""
    try:
        yield
    except ClipfeedError:
        raise
    except nats.js.errors.KeyWrongLastSequenceError as exc:
        raise Conflict(f"{action}: changed concurrently") from exc
    except nats.js.errors.NotFoundError as exc:
        raise NotFound(f"{action}: {exc.description or 'not found'}") from exc
    except nats.js.errors.ServiceUnavailableError as exc:
        raise Unavailable(f"{action}: JetStream unavailable ({exc.description})") from exc
    except nats.js.errors.BadRequestError as exc:
        raise Invalid(f"{action}: {exc.description}") from exc
    except nats.js.errors.APIError as exc:
        raise ClipfeedError(f"{action}: JetStream error {exc.err_code}: {exc.description}") from exc
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        # Connection refused, closed, reconnecting, no responders, timeouts: retry later.
        raise Unavailable(f"{action}: NATS unreachable ({type(exc).__name__}: {exc})") from exc
