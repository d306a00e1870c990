"""Recommendations and the For You feed: candidate sources, features, ranker, diversity,
exploration, buffered serving with a seen filter, offline evaluation, simulation and A/B tests."""
