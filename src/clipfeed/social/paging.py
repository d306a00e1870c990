"""Keyset pages (moved to ``clipfeed.core.pagination``; kept as the social feature's import)."""

from clipfeed.core.pagination import cursor_int, keyset_page

__all__ = ["cursor_int", "keyset_page"]
