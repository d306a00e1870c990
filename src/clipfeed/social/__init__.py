"""Social: follows, blocks, likes, bookmarks, comments, shares (docs/design/social.md)."""
