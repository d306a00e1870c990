"""The perceptual-hash blocklist: fingerprints of known prohibited clips that moderators add.

An entry keeps only the fingerprint (frame pHashes in ``media_phashes``, kind ``block``) and
why it was added, never the prohibited media itself. Moderators add an entry from a clip on
the platform (its stored fingerprint is copied) or from a file they upload (fingerprinted, then
deleted). Screening matches every new upload against all entries.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.core import contract
from clipfeed.core.errors import Conflict, Invalid, NotFound, PayloadTooLarge
from clipfeed.core.identifiers import IdField
from clipfeed.core.ids import IdGenerator
from clipfeed.core.pagination import id_page
from clipfeed.core.text import RequiredParagraphs
from clipfeed.infra.db import Base, Database, UTCDateTime, utcnow
from clipfeed.media import features, phash
from clipfeed.media.probe import ProbeError, probe
from clipfeed.runtime.outbox import Outbox


class BlocklistEntry(Base):
    __tablename__ = "media_blocklist"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(sa.Text)
    source_clip_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    frames: Mapped[int] = mapped_column(sa.Integer)
    added_by: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BlocklistFromClip(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clip_id: IdField = Field(description="a clip already on the platform")
    reason: RequiredParagraphs = Field(min_length=1, max_length=500)


class BlocklistPublic(BaseModel):
    id: str
    reason: str
    source_clip_id: str | None
    frames: int = Field(description="fingerprinted frames")
    added_by: str
    added_by_handle: str | None = None
    created_at: datetime


class BlocklistPage(BaseModel):
    items: list[BlocklistPublic]
    next_cursor: str | None


async def _create(*, db: Database, outbox: Outbox, ids: IdGenerator, reason: str, hashes: np.ndarray,
                  source_clip_id: int | None, moderator_id: int) -> BlocklistEntry:
    if not len(hashes):
        raise Invalid("the video has no frames with enough picture to fingerprint")
    entry = BlocklistEntry(id=ids.next_id(), reason=reason, source_clip_id=source_clip_id, frames=len(hashes),
                           added_by=moderator_id)
    async with db.session() as session:
        session.add(entry)
        await phash.store(session, kind="block", ref_id=entry.id, hashes=hashes)
        outbox.record(session, contract.BLOCKLIST_ADDED, key=entry.id, actor_id=moderator_id,
                      payload=contract.BlocklistAdded(entry_id=entry.id, source_clip_id=str(source_clip_id or "")))
    return entry


async def add_from_clip(*, db: Database, outbox: Outbox, ids: IdGenerator, clip_id: int, reason: str,
                        moderator_id: int) -> BlocklistEntry:
    """Blocklist a clip that was screened here (its fingerprint is on file)."""
    stored = await features.get(db=db, clip_id=clip_id)
    if stored is None or stored.fingerprint is None:
        raise Conflict(f"clip {clip_id} has no fingerprint yet (not processed, or unknown)")
    return await _create(db=db, outbox=outbox, ids=ids, reason=reason, hashes=phash.unpack(stored.fingerprint),
                         source_clip_id=clip_id, moderator_id=moderator_id)


async def add_from_file(*, db: Database, outbox: Outbox, ids: IdGenerator, body: AsyncIterator[bytes],
                        max_bytes: int, reason: str, moderator_id: int) -> BlocklistEntry:
    """Blocklist a video file. The file lives in a temporary directory only while it is
    fingerprinted and is removed even if fingerprinting fails (a killed process leaves it to
    the OS's temp cleaning; nothing is in the database until the entry commits)."""
    if not reason.strip():
        raise Invalid("say why this content is prohibited (reason)")
    with tempfile.TemporaryDirectory(prefix="clipfeed-block-") as tmp:
        path = Path(tmp) / "upload.bin"
        size = 0
        with path.open("wb") as out:
            async for chunk in body:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"at most {max_bytes} bytes")
                out.write(chunk)
        if size == 0:
            raise Invalid("send the video file as the request body")
        try:
            report = await probe(path)
        except ProbeError as exc:
            raise Invalid(str(exc)) from exc
        if report.main_video is None:
            raise Invalid("the file has no video stream")
        hashes = await phash.fingerprint(path, probe=report, workdir=Path(tmp) / "work")
    return await _create(db=db, outbox=outbox, ids=ids, reason=reason.strip(), hashes=hashes,
                         source_clip_id=None, moderator_id=moderator_id)


async def remove(*, db: Database, outbox: Outbox, entry_id: int, moderator_id: int) -> None:
    async with db.session() as session:
        entry = await session.get(BlocklistEntry, entry_id, with_for_update=True)
        if entry is None:
            raise NotFound(f"no blocklist entry {entry_id}")
        await session.delete(entry)
        await phash.remove(session, kind="block", ref_id=entry_id)
        outbox.record(session, contract.BLOCKLIST_REMOVED, key=entry_id,
                      actor_id=moderator_id, payload=contract.BlocklistRemoved(entry_id=entry_id))


async def get_many(*, db: Database, entry_ids: list[int]) -> dict[int, BlocklistEntry]:
    if not entry_ids:
        return {}
    async with db.session() as session:
        rows = await session.scalars(sa.select(BlocklistEntry).where(BlocklistEntry.id.in_(set(entry_ids))))
        return {e.id: e for e in rows}


async def list_entries(*, db: Database, cursor: str | None, limit: int) -> tuple[list[BlocklistEntry], str | None]:
    return await id_page(db, sa.select(BlocklistEntry), BlocklistEntry.id, cursor=cursor, limit=limit)


def view(entry: BlocklistEntry) -> BlocklistPublic:
    return BlocklistPublic(id=str(entry.id), reason=entry.reason,
                           source_clip_id=None if entry.source_clip_id is None else str(entry.source_clip_id),
                           frames=entry.frames, added_by=str(entry.added_by), created_at=entry.created_at)
