"""Cache keys of rendered clip views (shared by serving, which prefetches them, and rendering)."""


def view_key(clip_id: int) -> str:
    return f"recs:view:{clip_id}"
