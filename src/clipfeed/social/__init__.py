"""Social: follows, blocks, likes, bookmarks, comments, shares (README "Social")."""
