"""Opaque bearer tokens: random strings handed to the client, SHA-256 digests kept by us."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "cf_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
