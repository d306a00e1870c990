"""Read side of the feature store for the recommender: ``get_user_features`` and
``get_clip_features`` (key layouts in ``user_features`` and ``clip_features``)."""

from clipfeed.stream.clip_features import LiveClipFeatures, get_clip_features
from clipfeed.stream.user_features import UserFeatures, get_user_features

__all__ = ["LiveClipFeatures", "UserFeatures", "get_clip_features", "get_user_features"]
