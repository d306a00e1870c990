"""The embedded event log: one SQLite file of topics, partitions, offsets and groups."""
