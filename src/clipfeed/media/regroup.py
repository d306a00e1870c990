"""A copied top rung, cut into segments where the encoded rungs are cut.

FFmpeg's HLS muxer as we run it (``-hls_init_time 1``, a playlist that never drops entries)
ends its k-th segment at the first keyframe k seconds or more into the stream. The encoded rungs
have keyframes at 0, 1, 3, 5, ... s only, so it cuts at each of them; a copied source has more
(the web app's encoder puts one every second) and is cut at those too. FFmpeg therefore writes
a copied rung to a side folder (``parts_folder``), and its segments are joined here into the
ladder's: one per span between the ladder's keyframes. Those keyframes are among FFmpeg's cuts:
a ladder keyframe at T s (an odd number) that FFmpeg skipped would lie after its k-th cut,
itself at k s or later, and before k + 1 s, which no whole k allows (``passthrough`` checks
that each falls at or after its time).

A joined segment is its parts' fragments back to back (moof + mdat pairs, the way a low-latency
HLS segment is made of its parts), under the first part's ``styp``; the parts' ``sidx`` boxes,
each indexing one part only, are left out.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from clipfeed.media import ladder, packaging
from clipfeed.media.packaging import Segment, Track


def parts_folder(name: str) -> str:
    """FFmpeg's folder for the rung ``name`` when it is copied."""
    return f"{name}-parts"


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The top-level ISO BMFF boxes of ``data``: (type, the whole box)."""
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        if size == 1:
            size = struct.unpack_from(">Q", data, at + 8)[0]
        elif size == 0:
            size = len(data) - at
        yield kind, data[at:at + size]
        at += size


def _joined(parts: list[Path]) -> bytes:
    if len(parts) == 1:
        return parts[0].read_bytes()
    out = bytearray()
    for number, part in enumerate(parts):
        for kind, box in _boxes(part.read_bytes()):
            if kind == b"sidx" or (kind == b"styp" and number):
                continue
            out += box
    return bytes(out)


def _write(path: Path, data: bytes) -> None:
    # Whole or not at all: the publisher may list the folder between two calls.
    partial = path.with_name(path.name + ".tmp")
    partial.write_bytes(data)
    os.replace(partial, path)


def regroup(parts: Path, target: Path, fps: Fraction) -> None:
    """Bring ``target`` (a rendition folder as FFmpeg writes it: ``init.mp4``, segments,
    ``index.m3u8``) up to date with what FFmpeg has finished in ``parts``."""
    written = packaging.read_track(parts)
    if written.init is None or not written.segments:
        return
    cuts = set(ladder.first_frame_at(t, fps) for t in ladder.keyframe_times(written.duration + ladder.GOP_S))
    groups: list[list[Segment]] = []
    start = 0.0
    for segment in written.segments:
        if not groups or round(start * fps) in cuts:
            groups.append([])
        groups[-1].append(segment)
        start += segment.duration
    finished = groups if written.ended else groups[:-1]
    target.mkdir(exist_ok=True)
    if not (target / "init.mp4").exists():
        shutil.copyfile(written.init, target / "init.mp4")
    track = Track(local=target, folder=target.name, init=target / "init.mp4")
    for number, group in enumerate(finished):
        name = f"seg_{number:05d}.m4s"
        if not (target / name).exists():
            _write(target / name, _joined([parts / s.name for s in group]))
        track.segments.append(Segment(name, sum(s.duration for s in group), (target / name).stat().st_size))
    _write(target / "index.m3u8", packaging.media_playlist(track, ended=written.ended).encode())
