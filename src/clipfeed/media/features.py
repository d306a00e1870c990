"""``clip_features``: what media processing learned about a clip, for the recommender, search
and moderation: the content embedding, caption language, mentions, scene cuts, dominant
colours, loudness, the screening outcome (``flags``) and the perceptual fingerprint.

One row per clip in the main database (the recommender reads them in batches by clip ID).
Screening writes ``flags`` and ``fingerprint``; metadata extraction writes the rest. Both
upsert, so a redelivered job rewrites the same row.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base, Database, UTCDateTime, utcnow

if TYPE_CHECKING:
    from clipfeed.media.metadata import MediaMetadata


class ClipFeatures(Base):
    __tablename__ = "clip_features"

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    # float32 little-endian; layout in clipfeed.media.embedding (EMBEDDING_MODEL names it).
    embedding: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    embedding_model: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    language: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    scene_cuts: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    colours: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    loudness: Mapped[float | None] = mapped_column(sa.Float, nullable=True)  # integrated LUFS
    mentions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    technical: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # Screening outcome: {"decision", "scores", "reasons"}.
    flags: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # pHash per sampled second, 8 bytes each, big-endian (clipfeed.media.phash).
    fingerprint: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


async def _upsert(db: Database, clip_id: int, values: dict[str, Any]) -> None:
    for attempt in range(2):
        try:
            async with db.session() as session:
                row = await session.get(ClipFeatures, clip_id, with_for_update=True)
                if row is None:
                    row = ClipFeatures(clip_id=clip_id, colours=[], mentions=[], technical={}, flags={})
                    session.add(row)
                for name, value in values.items():
                    setattr(row, name, value)
            return
        except IntegrityError:  # another worker inserted the row first: update it instead
            if attempt:
                raise


async def save_metadata(*, db: Database, clip_id: int, metadata: MediaMetadata) -> None:
    """Store what ``metadata.extract`` found (the pipeline calls this after extraction)."""
    await _upsert(db, clip_id, {
        "embedding": metadata.embedding.astype("<f4").tobytes(), "embedding_model": metadata.embedding_model,
        "language": metadata.language, "scene_cuts": metadata.scene_cuts, "colours": metadata.colours,
        "loudness": metadata.loudness, "mentions": metadata.mentions, "technical": metadata.technical})


async def save_screening(*, db: Database, clip_id: int, flags: dict[str, Any], fingerprint: bytes) -> None:
    await _upsert(db, clip_id, {"flags": flags, "fingerprint": fingerprint})


async def get(*, db: Database, clip_id: int) -> ClipFeatures | None:
    async with db.session() as session:
        return await session.get(ClipFeatures, clip_id)


async def get_embeddings(*, db: Database, clip_ids: list[int]) -> dict[int, np.ndarray]:
    """Unit-length float32 content embeddings by clip ID; clips without one are left out."""
    if not clip_ids:
        return {}
    async with db.session() as session:
        rows = (await session.execute(sa.select(ClipFeatures.clip_id, ClipFeatures.embedding).where(
            ClipFeatures.clip_id.in_(set(clip_ids)), ClipFeatures.embedding.is_not(None)))).all()
    return {clip_id: np.frombuffer(blob, dtype="<f4").copy() for clip_id, blob in rows if blob}


async def get_languages(*, db: Database, clip_ids: list[int]) -> dict[int, str]:
    """The detected language of each clip that has one (search filters and indexes by it)."""
    if not clip_ids:
        return {}
    async with db.session() as session:
        rows = (await session.execute(sa.select(ClipFeatures.clip_id, ClipFeatures.language).where(
            ClipFeatures.clip_id.in_(set(clip_ids)), ClipFeatures.language.is_not(None)))).all()
    return {clip_id: language for clip_id, language in rows if language}


async def delete(*, db: Database, clip_id: int) -> None:
    async with db.session() as session:
        await session.execute(sa.delete(ClipFeatures).where(ClipFeatures.clip_id == clip_id))
