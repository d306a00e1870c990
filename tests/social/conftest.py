"""Fixtures of the social tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """These suites sign up many users; argon2's full cost (64 MiB, ~50 ms of CPU each) is the
    accounts suite's subject, not theirs. Same hasher, cheapest parameters."""
    from argon2 import PasswordHasher

    from clipfeed.accounts import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
