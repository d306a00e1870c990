"""Search and discovery: clips, creators and hashtags by text, autocomplete, the indexer."""
