"""Imports every feature's tables so ``Base.metadata`` is complete (Alembic, tests)."""

from clipfeed.accounts import models as accounts_models  # noqa: F401
from clipfeed.analytics import models as analytics_models  # noqa: F401
from clipfeed.clips import models as clips_models  # noqa: F401
from clipfeed.delivery import models as delivery_models  # noqa: F401
from clipfeed.federation import models as federation_models  # noqa: F401
from clipfeed.http import idempotency as http_idempotency  # noqa: F401
from clipfeed.infra.db import shardmap  # noqa: F401
from clipfeed.infra.search import tables as search_tables  # noqa: F401
from clipfeed.instance import models as instance_models  # noqa: F401
from clipfeed.media import blocklist as media_blocklist  # noqa: F401
from clipfeed.media import features as media_features  # noqa: F401
from clipfeed.media import phash as media_phash  # noqa: F401
from clipfeed.moderation import models as moderation_models  # noqa: F401
from clipfeed.notifications import models as notifications_models  # noqa: F401
from clipfeed.recs import models as recs_models  # noqa: F401
from clipfeed.runtime import outbox  # noqa: F401
from clipfeed.search import models as search_models  # noqa: F401
from clipfeed.social import models as social_models  # noqa: F401
from clipfeed.storage import models as storage_models  # noqa: F401
from clipfeed.stream import models as stream_models  # noqa: F401
from clipfeed.uploads import models as uploads_models  # noqa: F401
