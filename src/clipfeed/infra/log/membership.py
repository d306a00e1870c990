"""Who owns which partition of a partitioned consumer group: the same rules for every adapter.

A group's membership is one small document (live members with their expiry, and a lease per
owned partition) that each adapter keeps in its own store and changes atomically: the embedded
log inside a write transaction, JetStream with a compare-and-set on a KV key. Every member runs
``rebalance`` on its heartbeat; the protocol is cooperative:

* the wanted owner of a partition is chosen by rendezvous hashing over the live members, so a
  member joining or leaving moves only the partitions it gains or loses;
* a member only ever claims partitions for itself and only ever releases its own, so a
  partition is never held by two members at once;
* a member that stops heartbeating drops out once its expiry passes, and so do its leases,
  after which the wanted owners claim them.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field


def default_member_id() -> str:
    """Unique per consumer, readable in the membership document: host, process, random."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def rendezvous_owner(members: Iterable[str], partition: int) -> str | None:
    """The member with the highest hash score for ``partition`` (None when nobody is live)."""
    best: tuple[bytes, str] | None = None
    for member in members:
        score = hashlib.blake2b(f"{member}/{partition}".encode(), digest_size=8).digest()
        if best is None or (score, member) > best:
            best = (score, member)
    return None if best is None else best[1]


@dataclass
class Membership:
    members: dict[str, float] = field(default_factory=dict)
    """member id -> wall-clock second its heartbeat lapses"""
    owners: dict[int, tuple[str, float]] = field(default_factory=dict)
    """partition -> (member id, wall-clock second the lease lapses)"""

    @classmethod
    def from_json(cls, raw: bytes | str | None) -> Membership:
        if not raw:
            return cls()
        doc = json.loads(raw)
        owners = {int(p): (str(m), float(until)) for p, (m, until) in doc.get("owners", {}).items()}
        return cls({str(m): float(t) for m, t in doc.get("members", {}).items()}, owners)

    def to_json(self) -> bytes:
        owners = {str(p): [m, until] for p, (m, until) in sorted(self.owners.items())}
        return json.dumps({"members": self.members, "owners": owners}, separators=(",", ":")).encode()

    def live(self, now: float) -> list[str]:
        return sorted(m for m, until in self.members.items() if until > now)

    def owned_by(self, member: str, now: float) -> list[int]:
        """Partitions on which ``member`` holds an unexpired lease."""
        return sorted(p for p, (m, until) in self.owners.items() if m == member and until > now)

    def needs_rebalance(self, member: str, partitions: int, now: float) -> bool:
        """True when ``rebalance`` would claim or release something (or re-register us)."""
        if self.members.get(member, 0.0) <= now:
            return True
        live = self.live(now)
        for partition in range(partitions):
            wanted = rendezvous_owner(live, partition)
            holder = self._holder(partition, live, now)
            if holder == member and wanted != member:
                return True
            if wanted == member and holder is None:
                return True
        return False

    def rebalance(self, member: str, partitions: int, now: float, ttl: float) -> None:
        """Heartbeat ``member``, renew its leases, release what it should no longer own and claim
        what it should own and nobody live holds."""
        self.members = {m: until for m, until in self.members.items() if until > now}
        self.members[member] = now + ttl
        live = self.live(now)
        for partition in range(partitions):
            wanted = rendezvous_owner(live, partition)
            holder = self._holder(partition, live, now)
            if holder is None:
                self.owners.pop(partition, None)
            if holder == member and wanted != member:
                del self.owners[partition]
            elif wanted == member and holder in (None, member):
                self.owners[partition] = (member, now + ttl)
        # Partitions beyond the topic's count cannot exist; drop stale entries defensively.
        self.owners = {p: o for p, o in self.owners.items() if p < partitions}

    def leave(self, member: str) -> None:
        """Remove ``member`` and its leases at once (a clean shutdown)."""
        self.members.pop(member, None)
        self.owners = {p: o for p, o in self.owners.items() if o[0] != member}

    def _holder(self, partition: int, live: list[str], now: float) -> str | None:
        held = self.owners.get(partition)
        if held is None or held[1] <= now or held[0] not in live:
            return None
        return held[0]
