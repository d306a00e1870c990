"""Who a viewer is, as one string everywhere: ``u:<user id>`` for a signed-in user and
``d:<16 hex digits>`` for an anonymous device (the start of the SHA-256 of the device ID the
client sends, ``X-Device-Id`` or the ``cf_device`` cookie, so the raw ID is never stored).

The same string is the ``viewer`` of playback events, the record key of ``activity.users``, the
key of the recommender's and the stream's per-viewer state, and the lake's ``viewer`` column.
Only this module builds or reads it.

Why this form: the prefix tells the two kinds apart without a lookup, and hashing keeps device
IDs out of the log, the lake and the cache (the recommender already kept its state so).

Events, lake parts and stream state written before one form existed say ``<user id>`` and
``anon:<device id>``; ``ViewerId.parse`` reads those too and returns today's form, so a replay of
old events lands on the same keys (docs/design/index.md, "Viewers").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

USER, DEVICE = "u:", "d:"
_LEGACY_DEVICE = "anon:"


@dataclass(frozen=True, slots=True)
class ViewerId:
    key: str
    user_id: int | None = None

    @classmethod
    def signed_in(cls, user_id: int) -> ViewerId:
        return cls(f"{USER}{user_id}", user_id)

    @classmethod
    def anonymous(cls, device_id: str) -> ViewerId:
        return cls(DEVICE + hashlib.sha256(device_id.encode()).hexdigest()[:16])

    @classmethod
    def parse(cls, key: str) -> ViewerId:
        """A viewer key in today's form or a legacy one; ``ValueError`` for anything else."""
        if key.startswith(USER) or key.isdigit():
            digits = key.removeprefix(USER)
            if digits.isascii() and digits.isdigit() and 0 < int(digits) < 2**63:
                return cls.signed_in(int(digits))
        elif key.startswith(DEVICE):
            digest = key.removeprefix(DEVICE)
            if len(digest) == 16 and all(c in "0123456789abcdef" for c in digest):
                return cls(key)
        elif key.startswith(_LEGACY_DEVICE) and len(key) > len(_LEGACY_DEVICE):
            return cls.anonymous(key.removeprefix(_LEGACY_DEVICE))
        raise ValueError(f"not a viewer: {key[:80]!r}")
