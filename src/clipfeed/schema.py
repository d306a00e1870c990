"""Imports every feature's tables so ``Base.metadata`` is complete (Alembic, tests)."""

from clipfeed.accounts import models as accounts_models  # noqa: F401
from clipfeed.clips import models as clips_models  # noqa: F401
from clipfeed.core import outbox  # noqa: F401
from clipfeed.moderation import models as moderation_models  # noqa: F401
