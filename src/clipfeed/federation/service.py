"""What other features ask of federation (``from clipfeed.federation import service``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.federation.models import DomainPolicy, RemoteInstance

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

RULE_TTL_S = 5.0  # an admin's silencing reaches discovery within this long
_RULES: dict[int, tuple[float, RemoteRule]] = {}


@dataclass(frozen=True)
class RemoteRule:
    """Whose public clips discovery (For You, hashtag pages, search) may show: every local
    account's; another server's only with ``federation_remote_in_discovery`` and unless an admin
    silenced or suspended that server. One rule for the feed's pools, the search index and the
    search results."""

    included: bool
    silenced: frozenset[str] = frozenset()

    def admits(self, domain: str | None) -> bool:
        return domain is None or (self.included and domain not in self.silenced)


async def discovery_rule(*, services: Services) -> RemoteRule:
    if not services.settings.federation_remote_in_discovery:
        return RemoteRule(included=False)
    cached = _RULES.get(id(services.db))
    if cached is not None and time.monotonic() - cached[0] < RULE_TTL_S:
        return cached[1]
    async with services.db.session() as session:
        silenced = frozenset((await session.scalars(sa.select(RemoteInstance.domain).where(
            RemoteInstance.policy.in_([DomainPolicy.silence.value, DomainPolicy.suspend.value])))).all())
    rule = RemoteRule(included=True, silenced=silenced)
    _RULES[id(services.db)] = (time.monotonic(), rule)
    return rule
