"""A lifecycle process killed in the middle of a move loses no object, and after the repair run
no object is left in two tiers. The kill is real: the mover is a separate process that dies
with ``os._exit`` (no cleanup, no ``finally``) at a chosen point."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clipfeed.storage import moves
from clipfeed.storage.models import Part
from clipfeed.storage.service import parts_of
from clipfeed.storage.tiers import tier_stores
from tests.delivery import ladder
from tests.helpers import signup

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

MOVER = textwrap.dedent("""
    import asyncio, os, sys
    from datetime import UTC, datetime
    from clipfeed.bootstrap import running
    from clipfeed.settings import Settings
    from clipfeed.storage import moves
    from clipfeed.storage.models import Part, Tier

    clip_id, kill_at, after = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    copies = 0
    real_copy, real_settle = moves.copy_verified, moves._delete_outside_home

    async def copy_then_maybe_die(source, target, info):
        global copies
        copied = await real_copy(source, target, info)
        copies += 1
        if kill_at == "copy" and copies == after:
            os._exit(9)
        return copied

    async def die_before_deleting(*args, **kwargs):
        os._exit(9)

    moves.copy_verified = copy_then_maybe_die
    if kill_at == "delete":
        moves._delete_outside_home = die_before_deleting

    async def main():
        async with running(Settings(), relay=False) as services:
            await moves.move(services=services, clip_id=clip_id, part=Part.media, target=Tier.warm,
                             now=datetime.now(UTC))
    asyncio.run(main())
""")


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "raw"}


async def _where(clip_id: int, *, services) -> dict[str, list[str]]:
    stores = tier_stores(services=services)
    found: dict[str, list[str]] = {}
    for tier in ("hot", "warm", "cold"):
        async for info in stores.of(tier).list(f"clips/{clip_id}/"):
            name = info.key.split("/", 2)[2]
            if not name.startswith("raw/"):
                found.setdefault(name, []).append(tier)
    return found


@pytest.mark.parametrize("stack", ["embedded"])
@pytest.mark.parametrize("kill_at", ["copy", "delete"])
async def test_a_move_killed_midway_loses_nothing_and_repair_leaves_one_copy(kill_at, client, services,
                                                                             settings) -> None:
    owner = await signup(client, f"mover{kill_at}")
    clip = await ladder.publish(owner_id=owner.id, services=services)
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(settings.data_dir), "CLIPFEED_INPROCESS_WORKERS": "none",
           "CLIPFEED_LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO)}
    # In a thread: this process's relay must go on committing while the mover runs, or a write
    # lock it holds across the blocked event loop would stall the mover on the shared file.
    died = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", MOVER, str(clip.id), kill_at, "7"],
                                   env=env, capture_output=True)
    assert died.returncode == 9, died.stderr.decode()[-2000:]

    row = (await parts_of(services=services, clip_id=clip.id))[Part.media]
    where = await _where(clip.id, services=services)
    expected = _digests(ladder.ladder())
    assert set(where) == set(expected)  # nothing lost
    if kill_at == "copy":
        assert row.tier == "hot" and row.moving_to == "warm"
        assert all("hot" in tiers for tiers in where.values())  # reads still go to hot, which has all
        assert sum(tiers == ["hot", "warm"] for tiers in where.values()) == 7
    else:
        assert row.tier == "warm" and row.moving_to is None
        assert all(tiers == ["hot", "warm"] for tiers in where.values())  # copies left behind

    result = await moves.repair(now=datetime.now(UTC), services=services)
    assert result["resumed"] + result["settled"] >= 1
    where = await _where(clip.id, services=services)
    assert where == {name: ["warm"] for name in expected}  # one copy each, in the home tier
    warm = tier_stores(services=services).warm
    for name, digest in expected.items():
        assert hashlib.sha256(await warm.get(f"clips/{clip.id}/{name}")).hexdigest() == digest
    row = (await parts_of(services=services, clip_id=clip.id))[Part.media]
    assert row.tier == "warm" and row.moving_to is None
    assert await moves.repair(now=datetime.now(UTC), services=services) == {"resumed": 0, "settled": 0}
