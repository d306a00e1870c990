"""Clips: the video posts themselves (caption, hashtags, visibility, status, media pointers)."""
