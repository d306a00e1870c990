"""Signed, expiring, path-scoped media URLs, checkable by the origin and by nginx at the edge.

A signed URL looks like ``/media/s/{kid}/{expires}/{signature}/clips/{id}/hls/master.m3u8``.
The token sits in the *path*, before the clip's prefix, because players resolve the segment
URLs of a playlist relative to the playlist's URL and drop its query string: every relative
URL inside a signed playlist inherits the token. The signature covers the expiry and the clip
prefix (``clips/{id}/``), so one token opens every object of one clip and nothing else.

``signature = base64url(md5(expires + scope + " " + secret))``, which is exactly what nginx's
``secure_link_md5 "$expires$scope $secret"`` computes, so an edge checks tokens without asking
the origin. MD5 is acceptable here although it is broken for collisions: a forger would need a
*preimage* (a digest for a message of their choosing that nobody signed), and the messages we
sign are chosen by us (an expiry and a clip prefix), so collision attacks buy nothing; the
secret comes last, so the length-extension property of MD5 does not apply either; tokens live
hours, and keys rotate. Keys carry IDs: URLs are signed with the newest key and the newest
``accepted`` keys verify, so a rotation never breaks URLs handed out just before it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from clipfeed.settings import Settings

_KID = re.compile(r"^[A-Za-z0-9]{1,16}$")
# Canonical decimal: ASCII digits, no leading zero, as in src/clipfeed/delivery/edge.conf.
_EXPIRES = re.compile(r"[1-9][0-9]{0,11}")
SIGNED_PREFIX = "s"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: str


def _digest(expires: int, scope: str, secret: str) -> str:
    raw = hashlib.md5(f"{expires}{scope} {secret}".encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def clip_scope(clip_id: int) -> str:
    return f"clips/{clip_id}/"


def review_scope(clip_id: int) -> str:
    """For moderators watching a clip held for review: only the origin accepts it (edges know
    clip scopes alone), so a held clip's media is never in an edge cache."""
    return f"review/clips/{clip_id}/"


class Signer:
    def __init__(self, keys: list[SigningKey], *, accepted: int = 2) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.keys = keys
        self.accepted = {k.kid: k for k in keys[:max(1, accepted)]}

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        cache_key = (tuple(settings.media_signing_keys), str(settings.data_dir),
                     settings.media_signing_keys_accepted)
        signer = _SIGNERS.get(cache_key)
        if signer is None:
            keys = parse_keys(settings.media_signing_keys) or [_dev_key(settings.data_dir)]
            signer = _SIGNERS[cache_key] = cls(keys, accepted=settings.media_signing_keys_accepted)
        return signer

    def token(self, scope: str, expires: int) -> str:
        """The path part ``s/{kid}/{expires}/{signature}`` for ``scope``."""
        key = self.keys[0]
        return f"{SIGNED_PREFIX}/{key.kid}/{expires}/{_digest(expires, scope, key.secret)}"

    def check(self, *, kid: str, expires: str, signature: str, scope: str,
              now: float | None = None) -> str:
        """``"ok"``, ``"expired"`` or ``"invalid"`` (unknown key, malformed, wrong signature)."""
        key = self.accepted.get(kid)
        # Only the form we hand out verifies: nginx hashes the expiry exactly as written, so
        # "0170…" or "¹⁷⁰…" would have to fail there too, and a second spelling of one token
        # would also be a second cache key for the same object.
        if key is None or not _EXPIRES.fullmatch(expires):
            return "invalid"
        # As bytes: compare_digest refuses a str with characters beyond ASCII (a TypeError, a 500).
        if not hmac.compare_digest(_digest(int(expires), scope, key.secret).encode(), signature.encode()):
            return "invalid"
        return "expired" if int(expires) < (time.time() if now is None else now) else "ok"


_SIGNERS: dict[tuple[object, ...], Signer] = {}


def parse_keys(entries: list[str]) -> list[SigningKey]:
    keys = []
    for entry in entries:
        kid, sep, secret = entry.partition(":")
        if not sep or not _KID.match(kid) or len(secret) < 16 or '"' in secret or ";" in secret:
            raise ValueError("media signing keys are 'kid:secret' with an alphanumeric kid (≤ 16) and a "
                             "secret of at least 16 characters without quotes or semicolons")
        keys.append(SigningKey(kid, secret))
    return keys


def _dev_key(data_dir: Path) -> SigningKey:
    """With no key configured (a laptop), one random key is kept in the data directory so that
    URLs survive restarts; production sets CLIPFEED_MEDIA_SIGNING_KEYS."""
    path = data_dir.resolve() / "media-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"dev:{secrets.token_urlsafe(32)}\n", encoding="utf-8")
        path.chmod(0o600)
        structlog.get_logger(__name__).warning(
            "media URLs are signed with a generated development key; set CLIPFEED_MEDIA_SIGNING_KEYS",
            path=str(path))
    return parse_keys([path.read_text(encoding="utf-8").strip()])[0]
