"""Creator analytics: the lake's daily aggregates, served to the creator who owns the clips."""
