"""Which node serves a key while a node of the ring is down: the ring without it.

A node is *out* while its circuit breaker is not closed (``clipfeed.infra.breaker``: open after
a few failed calls in a row, half-open while its trial call is out), and after that until it
has been emptied (below). Keys it owns are served by
the next node clockwise of the ring without it, as if it had never been there: the other keys
stay where they are. Nothing is copied: a re-homed key starts empty on its stand-in (a cache
miss), and every write of a re-homed key gives it at most ``REHOMED_TTL_S`` to live, so what
the stand-in took on for the dead node does not outlive the outage by long. Once a process
has taken the node back it also deletes the copies it wrote on stand-ins (up to
``REHOMED_KEPT`` keys per node): should the node leave again within their TTL, they would be
served again, older than what the node was sent meanwhile.

A call that fails on a node whose breaker is not open yet (the first few after a crash) is
run once more on the ring without the nodes whose last call failed (``REROUTING``), so the
callers of the port see no error while another node can answer; except ``write_many`` and
``delete``, whose other keys may already have been written. A write run again this way leaves
the node's own copy as it was, as a failed write to a single server does; if the node is
down, its breaker opens within a few calls and it is emptied before it serves again.

**A node comes back empty.** A node that was out may come back with what it held before (it
was paused, or cut off, rather than restarted), and that copy misses every write and every
delete made meanwhile on its stand-ins: an invalidated page, a revoked token's entry, a card
removed from the feeds, a counter from before would all be served again. So a node whose
breaker has opened since this process last let it in stays out of this process's ring, even
once its breaker is closed again (by any call), until this process has emptied the cache's
namespace on it (``rejoin``: ``FLUSHDB ASYNC``, or ``SCAN``+``UNLINK`` of the ``?prefix=``).
Nobody sends a request to an out node, so nothing would ever find it back: once its breaker's
open interval has passed, ``LiveRing`` sends that emptying itself, in the background (its
first command is the breaker's trial); when it has finished without the breaker opening
again, the node serves its keys. While every node is out, calls fail at once
(``Unavailable``), as with a single server.

Processes do not agree at once. Each empties the node when *it* takes the node back, which
also discards what other processes wrote there after their own return: the writes and deletes
a process made on the stand-ins while the node was out for it can only be superseded that way,
since they never reached the node. So once the last process that saw the node out has taken it
back (each does so within its breaker's open interval of the node's return), the node holds
only what processes routing to it wrote there since. Until then a process that has taken it back may read there a
value that one still routing around it has meanwhile replaced or deleted on a stand-in (and
that one reads its stand-in's copies, up to ``REHOMED_TTL_S`` old), and a process that never
saw the node out, and so never empties it, reads what the node kept until the first one that
did has emptied it. Emptying twice costs misses, never a wrong answer. A process that dies
before taking the node back leaves the emptying to the others; if every process that saw the
node out is gone, nothing empties it (the runbook says to flush it by hand).

What this means for each kind of key: docs/operate/runbooks.md (one node of a ring).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from contextvars import ContextVar

import structlog

from clipfeed.core.errors import Unavailable
from clipfeed.infra.breaker import Breaker
from clipfeed.infra.cache.ring import HashRing

log = structlog.get_logger("clipfeed.cache")

# The longest a key re-homed on a stand-in node lives there (seconds).
REHOMED_TTL_S = 120.0
# Keys written on stand-ins that a process remembers per out node, to delete them there once
# the node is back (beyond, their TTL alone bounds them).
REHOMED_KEPT = 20_000

# Set while a call that failed on a node is run again: nodes whose last call failed count as out
# (their breakers are not open yet, but this call need not find out twice).
REROUTING: ContextVar[bool] = ContextVar("cache_rerouting", default=False)


class LiveRing:
    """The ring over ``breakers``' nodes, minus the nodes that are out. ``rejoin(name)``:
    empty the cache's namespace on a node, through its breaker, before it is let back in;
    ``drop_copies(name, keys)``: delete ``keys`` (of that node) on the other nodes."""

    def __init__(self, breakers: Mapping[str, Breaker], rejoin: Callable[[str], Awaitable[object]],
                 drop_copies: Callable[[str, Collection[str]], Awaitable[object]]) -> None:
        self._breakers = dict(breakers)
        self._rejoin = rejoin
        self._drop_copies = drop_copies
        self.full = HashRing(self._breakers)
        self._rings: dict[frozenset[str], HashRing] = {frozenset(): self.full}
        self._trials: dict[str, asyncio.Task[None]] = {}
        # Each breaker's ``opened`` count when its node was last let in: a node whose breaker
        # has opened since is out until emptied, whatever state its breaker is in by now.
        self._let_in = {name: breaker.opened for name, breaker in self._breakers.items()}
        self._not_before: dict[str, float] = {}  # after an emptying the node refused
        self._copies: dict[str, set[str]] = {}  # keys of each out node written on a stand-in

    def _fenced(self, name: str) -> bool:
        """Out until emptied (not only for the call being rerouted)."""
        breaker = self._breakers[name]
        return breaker.state != "closed" or breaker.opened != self._let_in[name]

    def out(self) -> frozenset[str]:
        """The nodes out of the ring now (those due are sent their emptying)."""
        suspect = REROUTING.get()
        out: list[str] = []
        for name, breaker in self._breakers.items():
            if self._fenced(name):
                out.append(name)
                if breaker.retry_in_s() <= 0 and breaker.state != "half_open":
                    self._trial(name)
            elif suspect and breaker.failures > 0:
                out.append(name)
        return frozenset(out)

    def ring(self) -> tuple[HashRing, frozenset[str]]:
        """The ring to route with and the nodes out of it; ``Unavailable`` when every node is
        out (one being emptied answers, but must not serve yet)."""
        out = self.out()
        if not out:
            return self.full, out
        if len(out) == len(self._breakers):
            wait = min(breaker.retry_in_s() for breaker in self._breakers.values())
            raise Unavailable("cache unreachable: every node of the ring is out",
                              retry_after=max(1, math.ceil(wait)))
        found = self._rings.get(out)
        if found is None:
            if len(self._rings) > 64:  # flapping nodes: keep the cache of rings small
                self._rings = {frozenset(): self.full}
            found = self._rings[out] = HashRing(name for name in self._breakers if name not in out)
        return found, out

    def node_for(self, key: str, *, write: bool = False) -> tuple[str, bool]:
        """The node serving ``key`` and whether it stands in for the key's owner. ``write``:
        the call may create the key there."""
        ring, out = self.ring()
        name = ring.node_for(key)
        if not out:
            return name, False
        owner = self.full.node_for(key)
        if owner not in out:
            return name, False
        if write:
            self._copied(owner, key)
        return name, True

    def group(self, keys: Iterable[str], *, write: bool = False) -> tuple[dict[str, list[int]], set[int]]:
        """Positions of ``keys`` by serving node, and the positions of re-homed keys."""
        keys = list(keys)
        ring, out = self.ring()
        groups = ring.group(keys)
        if not out:
            return groups, set()
        rehomed = set()
        for i, key in enumerate(keys):
            owner = self.full.node_for(key)
            if owner in out:
                rehomed.add(i)
                if write:
                    self._copied(owner, key)
        return groups, rehomed

    def _copied(self, owner: str, key: str) -> None:
        # Only for a node that will be emptied and let in again: a write rerouted away from a
        # node that stays in (one failed call) leaves a copy that its TTL alone bounds.
        if self._fenced(owner):
            copies = self._copies.setdefault(owner, set())
            if len(copies) < REHOMED_KEPT:
                copies.add(key)

    def _trial(self, name: str) -> None:
        running = self._trials.get(name)
        if (running is not None and not running.done()) or time.monotonic() < self._not_before.get(name, 0.0):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._trials[name] = loop.create_task(self._readmit(name))

    async def _readmit(self, name: str) -> None:
        breaker = self._breakers[name]
        opened = breaker.opened
        try:
            await self._rejoin(name)
        except Exception as exc:
            if breaker.state == "closed":
                # An answer, not an outage (the server refused the command, a pool wait ran
                # out): try again an open interval later rather than on the next call.
                self._not_before[name] = time.monotonic() + breaker.policy.open_s
                log.warning("cache.node_not_emptied", node=name, error=str(exc))
            return  # an outage is the breaker's business: it is open again
        if breaker.opened != opened:
            return  # a failure opened it again while the node was emptied: it stays out
        self._let_in[name] = opened
        log.info("cache.node_rejoined", node=name)
        # Now that this process sends the node its keys, the copies it wrote on stand-ins are
        # never read by it again; deleted, they cannot be served, stale, should the node leave
        # again within their REHOMED_TTL_S (by then the node may have had newer writes).
        copies = self._copies.pop(name, None)
        if copies:
            with contextlib.suppress(Exception):
                await self._drop_copies(name, copies)

    async def close(self) -> None:
        for task in self._trials.values():
            task.cancel()
        for task in self._trials.values():
            with contextlib.suppress(BaseException):
                await task
        self._trials.clear()


def capped(ttl: float | None, rehomed: bool) -> float | None:
    """The TTL a write gives a key: at most ``REHOMED_TTL_S`` for a re-homed one."""
    if not rehomed:
        return ttl
    return REHOMED_TTL_S if ttl is None else min(ttl, REHOMED_TTL_S)
