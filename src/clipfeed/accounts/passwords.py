"""argon2id password hashing, run off the event loop (each hash costs ~50 ms of CPU)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults follow RFC 9106's second recommended profile (argon2id, 64 MiB).
_hasher = PasswordHasher()
_dummies: dict[tuple[int, int, int], str] = {}


def _dummy() -> str:
    """Verified against when the account does not exist, so both paths cost the same time: one
    per set of hasher parameters. Made on first use, so a process that never checks a password
    (a worker, a CLI command) does not pay a hash at import."""
    key = (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism)
    if key not in _dummies:
        _dummies[key] = _hasher.hash("not-a-real-password-but-the-same-cost")
    return _dummies[key]


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored or _dummy(), password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
