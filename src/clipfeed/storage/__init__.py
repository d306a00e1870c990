"""Storage tiers: hot, warm and cold object stores, lifecycle moves, replication, cost report."""
