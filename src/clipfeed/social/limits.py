"""Per-user write rate limits of the social feature (fixed windows shared by API processes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clipfeed.accounts.models import User
    from clipfeed.runtime.services import Services


async def hit_write(user: User, scope: str, *, services: Services) -> None:
    """Likes, bookmarks, follows, blocks and shares: ``social_write_rate_per_minute`` each."""
    await services.limiter.hit(f"social.{scope}", str(user.id),
                               limit=services.settings.social_write_rate_per_minute, per_seconds=60)


async def hit_comment(user: User, *, services: Services) -> None:
    """Comments (and edits) have a tighter limit per minute and a daily cap."""
    settings = services.settings
    await services.limiter.hit("social.comment", str(user.id), limit=settings.social_comment_rate_per_minute,
                               per_seconds=60)
    await services.limiter.hit("social.comment.day", str(user.id), limit=settings.social_comment_rate_per_day,
                               per_seconds=86400)
