"""Offline evaluation of the recommender on public interaction data (``clipfeed recs eval``)."""
