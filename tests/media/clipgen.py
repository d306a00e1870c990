"""Small clips generated with FFmpeg for the thumbnail, screening and metadata tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make(path: Path, video: str, *, seconds: float, audio: str | None = None, vf: str | None = None) -> Path:
    """Encode ``seconds`` of an FFmpeg lavfi ``video`` source (plus an optional lavfi ``audio``)."""
    if path.exists():
        return path
    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", video]
    if audio:
        args += ["-f", "lavfi", "-i", audio]
    args += ["-t", str(seconds)]
    if vf:
        args += ["-vf", vf]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-r", "25"]
    args += ["-c:a", "aac", "-b:a", "128k"] if audio else ["-an"]
    subprocess.run([*args, str(path)], check=True)
    return path


def reencode(source: Path, path: Path, *, vf: str, crf: int = 30) -> Path:
    """A re-encoded copy (other size, rate and quality): what a re-uploader would post."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-vf", vf, "-r", "30", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", str(crf), "-an", str(path)], check=True)
    return path


def sequence(path: Path, sources: list[str], *, seconds: float, size: str = "320x240") -> Path:
    """Scenes back to back: each lavfi source for ``seconds``, joined by hard cuts."""
    if path.exists():
        return path
    args = ["ffmpeg", "-v", "error", "-y"]
    for source in sources:
        args += ["-f", "lavfi", "-t", str(seconds), "-i", source]
    scaled = "".join(f"[{i}:v]scale={size.replace('x', ':')},setsar=1,fps=25,format=yuv420p[v{i}];"
                     for i in range(len(sources)))
    joined = "".join(f"[v{i}]" for i in range(len(sources))) + f"concat=n={len(sources)}:v=1:a=0[out]"
    subprocess.run([*args, "-filter_complex", scaled + joined, "-map", "[out]", "-c:v", "libx264", "-preset",
                    "ultrafast", str(path)], check=True)
    return path
