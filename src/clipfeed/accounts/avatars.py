"""Avatar images: sniffed and decoded with Pillow, never trusted by extension or MIME type,
then re-encoded to a square WebP (drops metadata such as GPS tags, and any payload hidden in
the original file)."""

from __future__ import annotations

import asyncio
import io
import secrets

from PIL import Image, UnidentifiedImageError

from clipfeed.core.errors import Invalid, PayloadTooLarge, UnsupportedMediaType
from clipfeed.infra.blobs import BlobStore
from clipfeed.settings import Settings

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
SIZE = 400


def _normalise(data: bytes, max_pixels: int) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
            probe.verify()
    except Image.DecompressionBombError as exc:
        raise Invalid("the image declares too many pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise UnsupportedMediaType("the avatar is not a readable JPEG, PNG, WebP or GIF image") from exc
    if kind not in ALLOWED_FORMATS:
        raise UnsupportedMediaType(f"{kind} images are not accepted; use JPEG, PNG, WebP or GIF")
    if width * height > max_pixels:
        raise Invalid(f"the image is {width}x{height}; at most {max_pixels} pixels are accepted")
    if min(width, height) < 32:
        raise Invalid("the image is too small; at least 32x32 pixels are needed")
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        rgb = image.convert("RGB")
        side = min(rgb.size)
        left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
        square = rgb.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        square.save(out, "WEBP", quality=85, method=4)
        return out.getvalue()


async def store(*, blobs: BlobStore, settings: Settings, user_id: int, data: bytes) -> str:
    if not data:
        raise Invalid("the avatar body is empty")
    if len(data) > settings.avatar_max_bytes:
        raise PayloadTooLarge(f"avatars are limited to {settings.avatar_max_bytes} bytes")
    webp = await asyncio.to_thread(_normalise, data, settings.avatar_max_pixels)
    key = f"avatars/{user_id}/{secrets.token_hex(8)}.webp"
    await blobs.put(key, webp, content_type="image/webp")
    return key
