"""Which node serves a key while a node of the ring is down: the ring without it.

A node is *out* while its circuit breaker is not closed (``clipfeed.infra.breaker``: open after
a few failed calls in a row, half-open while its trial call is out). Keys it owns are served by
the next node clockwise of the ring without it, as if it had never been there: the other keys
stay where they are. Nothing is copied: a re-homed key starts empty on its stand-in (a cache
miss), and every write of a re-homed key gives it at most ``REHOMED_TTL_S`` to live, so what
the stand-in took on for the dead node does not outlive the outage by long (and cannot come
back, stale, when the same node fails again later).

A call that fails on a node whose breaker is not open yet (the first few after a crash) is
run once more on the ring without the nodes whose last call failed (``REROUTING``), so the
callers of the port see no error while another node can answer; except ``write_many`` and
``delete``, whose other keys may already have been written.

Nobody sends a request to an out node, so nothing would ever find it back: once its breaker's
open interval has passed, ``LiveRing`` sends the trial itself (one ping, in the background);
its answer closes the breaker and the node is in the ring again, serving what it holds
(nothing if it restarted without its data; what it held before the outage, without the writes
made meanwhile, if it kept its data). While every node is out the full ring is used, and
calls fail at once through the breakers (``Unavailable``), as with a single server.

What this means for each kind of key: docs/operate/runbooks.md (one node of a ring).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar

from clipfeed.infra.breaker import Breaker
from clipfeed.infra.cache.ring import HashRing

# The longest a key re-homed on a stand-in node lives there (seconds).
REHOMED_TTL_S = 120.0

# Set while a call that failed on a node is run again: nodes whose last call failed count as out
# (their breakers are not open yet, but this call need not find out twice).
REROUTING: ContextVar[bool] = ContextVar("cache_rerouting", default=False)


class LiveRing:
    """The ring over ``breakers``' nodes, minus the nodes whose breaker is not closed.
    ``probe(name)``: one call to a node through its breaker (the trial)."""

    def __init__(self, breakers: Mapping[str, Breaker], probe: Callable[[str], Awaitable[object]]) -> None:
        self._breakers = dict(breakers)
        self._probe = probe
        self.full = HashRing(self._breakers)
        self._rings: dict[frozenset[str], HashRing] = {frozenset(): self.full}
        self._trials: dict[str, asyncio.Task[None]] = {}

    def out(self) -> frozenset[str]:
        """The nodes out of the ring now (a trial is sent to those whose interval has passed)."""
        suspect = REROUTING.get()
        out = frozenset(name for name, breaker in self._breakers.items()
                        if breaker.state != "closed" or (suspect and breaker.failures > 0))
        for name in out:
            if self._breakers[name].state == "open" and self._breakers[name].retry_in_s() <= 0:
                self._trial(name)
        return out

    def ring(self) -> tuple[HashRing, frozenset[str]]:
        """The ring to route with and the nodes out of it (none when every node is out)."""
        out = self.out()
        if not out:
            return self.full, out
        if len(out) == len(self._breakers):
            return self.full, frozenset()
        found = self._rings.get(out)
        if found is None:
            if len(self._rings) > 64:  # flapping nodes: keep the cache of rings small
                self._rings = {frozenset(): self.full}
            found = self._rings[out] = HashRing(name for name in self._breakers if name not in out)
        return found, out

    def node_for(self, key: str) -> tuple[str, bool]:
        """The node serving ``key`` and whether it stands in for the key's owner."""
        ring, out = self.ring()
        name = ring.node_for(key)
        return name, bool(out) and self.full.node_for(key) in out

    def group(self, keys: Iterable[str]) -> tuple[dict[str, list[int]], set[int]]:
        """Positions of ``keys`` by serving node, and the positions of re-homed keys."""
        keys = list(keys)
        ring, out = self.ring()
        groups = ring.group(keys)
        if not out:
            return groups, set()
        rehomed = {i for i, key in enumerate(keys) if self.full.node_for(key) in out}
        return groups, rehomed

    def _trial(self, name: str) -> None:
        running = self._trials.get(name)
        if running is not None and not running.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._trials[name] = loop.create_task(self._try(name))

    async def _try(self, name: str) -> None:
        # Any failure is the breaker's business (it opens again); nothing to report here.
        with contextlib.suppress(Exception):
            await self._probe(name)

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
