"""Riding out a PostgreSQL restart: which database failures a request may wait out or run again.

The rule, in one place (docs/operate/deployment.md, "A database restart"):

1. **Connect time: wait.** A transaction whose connection could not be opened has sent nothing
   to the database, so nothing of it can have been done. When a server this process had been
   connected to *refused* it (nothing listens on its port; it answered "starting up",
   "shutting down", "not yet accepting connections"), the server is restarting: the
   transaction waits and tries again, with jittered exponential back-off, until a connection
   opens or ``wait_s`` has passed since the server first refused
   (``CLIPFEED_DATABASE_RESTART_WAIT_S``). Past that it is an outage, not
   a restart: requests fail at once (503 with Retry-After), as before. A connect that *timed
   out* (a cut link, a dead host: nothing answers at all) is not waited for either.
2. **After the first statement: no retry of a write.** A connection lost mid-transaction
   leaves the outcome unknown (a COMMIT may have been applied before its answer was lost):
   the request answers 503 and the client decides, with its ``Idempotency-Key``.
3. **Reads run again whole.** A GET or HEAD request that sent no write (no INSERT, UPDATE,
   DELETE...) and lost its connection to a restart is run again in the process, within the
   same ``wait_s`` of its arrival (``clipfeed.http.restarts``).

The database's circuit breaker still bounds the connection attempts while the server is gone:
waiting transactions do not each knock; one trial per ``CLIPFEED_DATABASE_RESTART_BREAKER_OPEN_S``
(1 s) does when the breaker was opened by refusals, and the waiters follow once it got through
(opened by timeouts, it keeps ``CLIPFEED_BREAKER_OPEN_S``: a trial then costs a request its
connect timeout). Load shedding still bounds the requests a
process holds meanwhile (``CLIPFEED_SHED_MAX_IN_FLIGHT``).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from prometheus_client import Counter

from clipfeed.infra.breaker import BreakerOpen

WAITS = Counter("clipfeed_db_restart_waits_total",
                "Transactions that waited for a restarting database server before their first statement")

# What PostgreSQL, libpq or the kernel say while the server restarts: nothing listens on its
# port, the postmaster answers that it is starting up or shutting down, or a server process
# closes its end (a shutdown ends them all; a client finds its connection closed, not timed
# out). Connection failures carry no SQLSTATE in psycopg: the text is matched (lc_messages =
# C in our deployments). A timeout (a cut link, a dead host) matches none of these.
_REFUSED = re.compile(r"connection refused|the database system is (starting up|shutting down|in recovery mode)|"
                      r"not yet accepting connections|server closed the connection unexpectedly|"
                      r"connection reset by peer", re.IGNORECASE)
# Sent by a backend ended by a shutdown or a crash of the server: ``AdminShutdown``,
# ``CrashShutdown``, ``CannotConnectNow``.
RESTART_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})

FIRST_PAUSE_S = 0.05
LONGEST_PAUSE_S = 1.0


def refused(exc: BaseException) -> bool:
    """``exc`` (a driver error, or SQLAlchemy's wrapping of one) says the server refused a
    connection or ended one because it is going down or coming up: a restart, not a timeout."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig.__cause__, BreakerOpen):
        return False  # the breaker's own refusal says nothing of the server
    if getattr(orig, "sqlstate", None) in RESTART_SQLSTATES:
        return True
    return bool(_REFUSED.search(str(orig)))


def stopped_by_breaker(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None) or exc
    return isinstance(orig.__cause__, BreakerOpen)


def pause_s(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """The wait before connect attempt ``attempt + 1``: exponential, capped, "equal jitter"
    (half fixed, half random), so waiters of many processes do not knock together."""
    ceiling = min(LONGEST_PAUSE_S, FIRST_PAUSE_S * 2 ** attempt)
    return ceiling / 2 + rng() * ceiling / 2


class RestartWatch:
    """One process's view of one database server: since when it refuses connections."""

    def __init__(self, wait_s: float, breaker_open_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.wait_s = wait_s
        self.breaker_open_s = breaker_open_s  # the breaker's trial after refusals (a restart)
        self._clock = clock
        self.refusing_since: float | None = None
        # Connected once: a server that has never answered this process (down at its start,
        # a wrong address) is not restarting, and nothing waits for it.
        self.seen = False

    def connect_failed(self, exc: BaseException) -> None:
        if refused(exc) and self.seen:
            if self.refusing_since is None:
                self.refusing_since = self._clock()
        else:
            self.refusing_since = None  # timed out, or refused for another reason: not a restart

    def connected(self) -> None:
        self.seen = True
        self.refusing_since = None

    def restarting(self) -> bool:
        """The server refuses connections, and has for less than ``wait_s``: worth waiting for."""
        return self.refusing_since is not None and self._clock() < self.refusing_since + self.wait_s

    def wait_until(self, arrived: float, exc: BaseException) -> float | None:
        """Until when a transaction that arrived at ``arrived`` and failed to connect with ``exc``
        may keep trying; None: it must fail now."""
        if self.wait_s <= 0 or self.refusing_since is None:
            return None
        if not (refused(exc) or stopped_by_breaker(exc)):
            return None
        return min(arrived, self.refusing_since) + self.wait_s


_WATCHES: dict[str, RestartWatch] = {}


def watch_for(endpoint: str, wait_s: float, breaker_open_s: float) -> RestartWatch:
    """The watch of one database endpoint, shared by the engines of one process that name it
    (``endpoint`` as the breaker names it: no credentials)."""
    found = _WATCHES.get(endpoint)
    if found is None:
        found = _WATCHES[endpoint] = RestartWatch(wait_s, breaker_open_s)
    found.wait_s, found.breaker_open_s = wait_s, breaker_open_s
    return found


def forget() -> None:
    """Forget every refusal seen (tests: a server an earlier test stopped on purpose)."""
    for watch in _WATCHES.values():
        watch.refusing_since = None


@dataclass(slots=True)
class Attempt:
    """One request's database work, for the decision to run it again (``clipfeed.http.restarts``)."""

    wrote: bool = False       # a statement other than a plain read was sent
    lost: bool = False        # its answer is a 503 because a restart broke or refused its connection


CURRENT: ContextVar[Attempt | None] = ContextVar("clipfeed_db_attempt", default=None)
_READS = ("SELECT", "SHOW")


def note_statement(statement: str) -> None:
    """Called before each statement on a PostgreSQL primary: anything but a plain read marks the
    request as having written (a SELECT calling a function that writes would be missed: none of
    ours is run from a GET)."""
    attempt = CURRENT.get()
    if attempt is not None and not attempt.wrote and not statement.lstrip()[:6].upper().startswith(_READS):
        attempt.wrote = True


def note_failure(exc: BaseException) -> None:
    """The HTTP layer answers 503 for ``exc``: mark the request if a restart caused it."""
    attempt = CURRENT.get()
    if attempt is not None:
        attempt.lost = refused(exc) or (stopped_by_breaker(exc) and any_restarting())


def any_restarting() -> bool:
    """Some database of this process is restarting (``RestartWatch.restarting``)."""
    return any(watch.restarting() for watch in _WATCHES.values())
