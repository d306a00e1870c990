"""Delivery: the media origin, signed URLs, TTL policy, edge selection, placement and purge."""
