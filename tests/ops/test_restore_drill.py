"""The restore drill of docs/operate/backup.md, step by step: back up a running deployment the
way the page says, restore into a fresh place, and find what was written before the backup.

If this test changes, change the page with it (and the other way round)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import RegisterRequest
from clipfeed.bootstrap import Services, bootstrap
from clipfeed.clips import service as clips
from clipfeed.clips.models import ClipCreate
from clipfeed.settings import Settings
from tests import services as engines

MASTER = b"\x00\x00\x00\x18ftypmp42 not really a video, but bytes to find again"


async def _write_user_clip_and_master(*, services: Services) -> tuple[int, int]:
    await accounts.register(db=services.db, outbox=services.outbox, ids=services.ids, settings=services.settings,
                            request=RegisterRequest(handle="drill", email="drill@example.com",
                                                    password="restore-drill-password"))
    user = await accounts.get_by_handle(db=services.db, handle="drill")
    clip = await clips.create_draft(db=services.db, outbox=services.outbox, ids=services.ids, owner_id=user.id,
                                    request=ClipCreate(caption="before the backup #drill"))
    await services.blobs.put(f"clips/{clip.id}/raw/master.mp4", MASTER)
    await services.outbox.flush()  # the events of both writes are in the log before the backup
    return user.id, clip.id


async def _assert_restored(settings: Settings, user_id: int, clip_id: int, *, log_topic: str | None) -> None:
    restored = await bootstrap(settings, relay=False)
    try:
        user = await accounts.get_by_handle(db=restored.db, handle="drill")
        assert user.id == user_id
        clip = (await clips.get_many(db=restored.db, clip_ids=[clip_id]))[clip_id]
        assert (clip.owner_id, clip.caption) == (user_id, "before the backup #drill")
        assert await restored.blobs.get(f"clips/{clip_id}/raw/master.mp4") == MASTER
        if log_topic:
            records = [r for p in range(await restored.log.partitions(log_topic))
                       for r in await restored.log.read(log_topic, p, from_offset=0)]
            assert any(str(clip_id).encode() in (r.key or b"") + r.value for r in records)
    finally:
        await restored.close()


def _run(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True, capture_output=True, timeout=120)


@pytest.mark.parametrize("stack", ["embedded"])
async def test_embedded_stack_is_restored_from_an_online_backup(tmp_path: Path, *, services: Services) -> None:
    user_id, clip_id = await _write_user_clip_and_master(services=services)
    live = services.settings.data_dir
    backup = tmp_path.parent / f"{tmp_path.name}-backup"
    (backup / "events").mkdir(parents=True)

    # Backup, while the services keep running: the page's commands, in its order.
    _run("sqlite3", live / "clipfeed.db", f".backup '{backup / 'clipfeed.db'}'")
    _run("sqlite3", live / "events" / "events.sqlite3", f".backup '{backup / 'events' / 'events.sqlite3'}'")
    _run("cp", "-a", live / "blobs", backup / "blobs")

    # Restore into a data directory that never held anything.
    fresh = tmp_path.parent / f"{tmp_path.name}-restored"
    fresh.mkdir()
    shutil.copy2(backup / "clipfeed.db", fresh / "clipfeed.db")
    (fresh / "events").mkdir()
    shutil.copy2(backup / "events" / "events.sqlite3", fresh / "events" / "events.sqlite3")
    _run("cp", "-a", backup / "blobs", fresh / "blobs")

    await _assert_restored(services.settings.model_copy(update={"data_dir": fresh}), user_id, clip_id,
                           log_topic="clips")


@pytest.mark.parametrize("stack", ["real"])
async def test_postgresql_database_is_restored_from_pg_dump(tmp_path: Path, postgres_server_url: str,
                                                            *, services: Services) -> None:
    user_id, clip_id = await _write_user_clip_and_master(services=services)
    dump = tmp_path / "clipfeed.dump"
    _run("pg_dump", "--format=custom", f"--file={dump}", services.settings.database_url)

    with engines.postgres_database(postgres_server_url) as fresh_url:
        _run("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={fresh_url}", dump)
        # Same object store and log; only the database comes from the dump.
        await _assert_restored(services.settings.model_copy(update={"database_url": fresh_url}),
                               user_id, clip_id, log_topic=None)
