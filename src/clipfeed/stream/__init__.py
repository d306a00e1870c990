"""Stream processing of engagement events: counters, trending, live features, watermarks."""
