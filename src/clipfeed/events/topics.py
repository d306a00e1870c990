"""The topics of the engagement pipeline, their partition keys and their retention.

``activity.clips`` and ``activity.users`` carry the same events (client playback events and
the clip-targeted social events relayed from ``social``), partitioned two ways so that each
clip's and each user's state has exactly one writer: the member owning its partition.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from clipfeed.core.contract import Topic
from clipfeed.infra.log import TopicSpec

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

# Days of retention per topic unless ``CLIPFEED_TOPIC_RETENTION_DAYS`` says otherwise. The
# activity topics only need to outlive the lake compaction and a replay; social and clip
# lifecycle events are kept longer because they rebuild counters and the catalog.
DEFAULT_RETENTION_DAYS: dict[str, float] = {Topic.ACTIVITY_CLIPS: 7, Topic.ACTIVITY_USERS: 7, Topic.SOCIAL: 30,
                                            Topic.CLIPS: 30}


def topic_specs(*, services: Services) -> list[TopicSpec]:
    settings = services.settings
    days = {**DEFAULT_RETENTION_DAYS, **settings.topic_retention_days}
    return [TopicSpec(name, partitions=settings.stream_partitions,
                      max_age=None if age <= 0 else timedelta(days=age))
            for name, age in days.items()]


async def ensure_topics(*, services: Services) -> None:
    """Create the pipeline's topics (or update their retention); safe to call repeatedly."""
    if getattr(services, "_activity_topics_ready", False):
        return
    for spec in topic_specs(services=services):
        await services.log.ensure_topic(spec)
    services._activity_topics_ready = True  # type: ignore[attr-defined]
