"""Media: probing, the transcoding pipeline, thumbnails, moderation and metadata."""
