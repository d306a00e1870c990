"""Perceptual fingerprints of clips and the index that finds near copies of them.

A clip's fingerprint is the 64-bit pHash (imagehash's DCT hash) of one frame per second (one
per 1/120 of the clip past two minutes), taken on a small copy of each frame. Re-encoding,
rescaling or changing the frame rate moves a frame's hash by a few bits; a different picture
moves it by about half of them. Frames that carry almost no picture (black, one flat colour)
are left out: every black frame hashes alike, so they would match everything.

Finding hashes within ``d`` bits among millions uses multi-index hashing: each hash is
stored as four 16-bit bands, each indexed. Two hashes at most 3 bits apart share at least one
band exactly (pigeonhole), so a lookup by band values finds every such pair; pairs up to the
configured distance (10 bits) are found whenever their differing bits bunch in fewer than
four bands, which is the usual case for re-encodes. Candidates are then checked on the whole
hash. The index holds both clips (duplicate detection) and blocklist entries (prohibited
content moderators added), told apart by ``kind``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base, Database
from clipfeed.media.frames import Frames, Sampling, luma, sample
from clipfeed.media.probe import Probe

BANDS = 4
FRAME_BOX = 96
MAX_FRAMES = 120
MIN_LUMA_STD = 8.0  # below this a frame is too flat to say anything


class PHashRow(Base):
    """One band of one frame hash of a clip or blocklist entry."""

    __tablename__ = "media_phashes"
    __table_args__ = (sa.Index("ix_media_phashes_lookup", "kind", "band", "band_value"),)

    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # clip | block
    ref_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    band: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    band_value: Mapped[int] = mapped_column(sa.Integer)
    hash: Mapped[int] = mapped_column(sa.BigInteger)  # the whole 64-bit hash, two's complement


@dataclass(frozen=True)
class Match:
    ref_id: int
    matched: int        # frames of the probe that have a near twin in the reference
    probe_frames: int
    matched_ref: int    # distinct reference frames hit

    @property
    def fraction(self) -> float:
        return self.matched / self.probe_frames if self.probe_frames else 0.0


def sampling(duration: float) -> Sampling:
    return Sampling("phash", max(1.0, duration / MAX_FRAMES), FRAME_BOX)


def hashes_of(frames: Frames) -> np.ndarray:
    """uint64 pHashes of the informative frames, in time order."""
    out = []
    flat = luma(frames.pixels).std(axis=(1, 2)) if len(frames) else np.zeros(0)
    for pixels, spread_ in zip(frames.pixels, flat, strict=True):
        if spread_ < MIN_LUMA_STD:
            continue
        bits = imagehash.phash(Image.fromarray(pixels)).hash.flatten()
        out.append(int("".join("1" if b else "0" for b in bits), 2))
    return np.array(out, dtype=np.uint64)


async def fingerprint(source: Path, *, probe: Probe, workdir: Path) -> np.ndarray:
    frames = await sample(source, probe=probe, workdir=workdir, samplings=[sampling(probe.duration)])
    return hashes_of(frames["phash"])


def pack(hashes: np.ndarray) -> bytes:
    return hashes.astype(">u8").tobytes()


def unpack(blob: bytes | None) -> np.ndarray:
    return np.frombuffer(blob or b"", dtype=">u8").astype(np.uint64)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _bands(value: int) -> list[int]:
    return [(value >> (16 * b)) & 0xFFFF for b in range(BANDS)]


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between every hash of ``a`` (rows) and of ``b`` (columns)."""
    xor = np.bitwise_xor(a[:, None], b[None, :])
    return np.unpackbits(xor.view(np.uint8).reshape(*xor.shape, 8), axis=-1).sum(axis=-1)


async def store(session: AsyncSession, *, kind: str, ref_id: int, hashes: np.ndarray) -> None:
    """Replace the indexed hashes of ``(kind, ref_id)`` (idempotent: a rerun rewrites them)."""
    await session.execute(sa.delete(PHashRow).where(PHashRow.kind == kind, PHashRow.ref_id == ref_id))
    session.add_all([PHashRow(kind=kind, ref_id=ref_id, position=pos, band=band, band_value=value,
                              hash=_signed(int(h)))
                     for pos, h in enumerate(hashes) for band, value in enumerate(_bands(int(h)))])


async def remove(session: AsyncSession, *, kind: str, ref_id: int) -> None:
    await session.execute(sa.delete(PHashRow).where(PHashRow.kind == kind, PHashRow.ref_id == ref_id))


async def find(*, db: Database, kind: str, hashes: np.ndarray, max_distance: int,
               exclude: int | None = None) -> list[Match]:
    """References of ``kind`` sharing near-identical frames with ``hashes``, best first."""
    if not len(hashes):
        return []
    per_band: dict[int, set[int]] = defaultdict(set)
    for h in hashes:
        for band, value in enumerate(_bands(int(h))):
            per_band[band].add(value)
    condition = sa.or_(*[sa.and_(PHashRow.band == band, PHashRow.band_value.in_(sorted(values)))
                         for band, values in per_band.items()])
    query = sa.select(PHashRow.ref_id, PHashRow.position, PHashRow.hash).where(
        PHashRow.kind == kind, condition).distinct()
    if exclude is not None:
        query = query.where(PHashRow.ref_id != exclude)
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    by_ref: dict[int, dict[int, int]] = defaultdict(dict)
    for ref_id, position, value in rows:
        by_ref[ref_id][position] = value & 0xFFFFFFFFFFFFFFFF
    matches = []
    for ref_id, frames in by_ref.items():
        positions = list(frames)
        near = distances(hashes, np.array([frames[p] for p in positions], dtype=np.uint64)) <= max_distance
        matched = int(near.any(axis=1).sum())
        if matched:
            matches.append(Match(ref_id=ref_id, matched=matched, probe_frames=len(hashes),
                                 matched_ref=int(near.any(axis=0).sum())))
    return sorted(matches, key=lambda m: (-m.matched, m.ref_id))
