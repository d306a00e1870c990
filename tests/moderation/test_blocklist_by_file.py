"""Blocklisting by file upload keeps the fingerprint only: not the file, in no store and in no
temporary folder, whether fingerprinting succeeds or the file is refused."""

from __future__ import annotations

import tempfile
from pathlib import Path

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role
from clipfeed.media import phash
from clipfeed.media.probe import probe
from tests.helpers import assert_problem, signup
from tests.services import shared_media


def _scratch() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("clipfeed-block-*"))


async def _objects(*, services) -> list[str]:
    return [info.key async for info in services.blobs.list("")]


async def test_a_blocklisted_file_leaves_only_its_fingerprint(client, services, tmp_path: Path) -> None:
    mod = await signup(client, "keeper")
    await accounts.set_role(db=services.db, cache=services.cache, handle="keeper", role=Role.moderator)
    scratch, objects = _scratch(), await _objects(services=services)
    video = shared_media() / "bikes.mp4"

    made = await client.post("/v1/moderation/blocklist?reason=known%20scam", content=video.read_bytes(),
                             headers={**mod.auth, "Content-Type": "video/mp4"})
    assert made.status_code == 201, made.text
    entry = made.json()
    assert entry["source_clip_id"] is None and entry["reason"] == "known scam" and entry["frames"] >= 4
    # The media pipeline's fingerprint of the same file finds the entry, frame for frame.
    hashes = await phash.fingerprint(video, probe=await probe(video), workdir=tmp_path)
    found = await phash.find(db=services.db, kind="block", hashes=hashes,
                             max_distance=services.settings.screening_phash_distance)
    assert [(m.ref_id, m.fraction) for m in found] == [(int(entry["id"]), 1.0)]

    truncated = video.read_bytes()[:4096]  # a file cut short: probing fails
    refused = await client.post("/v1/moderation/blocklist?reason=x", content=truncated,
                                headers={**mod.auth, "Content-Type": "application/octet-stream"})
    assert_problem(refused, 422)
    assert _scratch() <= scratch and await _objects(services=services) == objects
