"""The ladder's CPU with the top rung copied from an upload that already is it, against the
whole ladder encoded, on the same source in the same run.

    .venv/bin/python bench/passthrough.py [--seconds 20] [--rounds 2] [--keep DIR]

Source: what the web app uploads after compressing a phone video, ``--seconds`` long: Big Buck
Bunny (../shared/media) looped and scaled to 1920x1080, 25 fps, x264 veryfast (High profile,
B-frames), a keyframe every second, within the top rung's cap (4 Mbit/s, 8 Mbit buffer), AAC.
Each round runs ``transcode.encode`` both ways (alternating, the copy first), as the worker does
after the loudness pass; the figure is the CPU seconds of FFmpeg (user + system of the child
processes), which other load on the machine inflates less than wall time. The decision itself
(``passthrough.decide``: ffprobe's packet list, no decode) is timed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from clipfeed.media import passthrough, transcode
from clipfeed.media import probe as prober
from clipfeed.media.edits import EditList

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def upload(path: Path, seconds: float) -> Path:
    if not path.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(SHARED / "bigbuckbunny.mp4"),
                        "-t", str(seconds), "-vf", "scale=1920:1080", "-c:v", "libx264", "-preset", "veryfast",
                        "-crf", "23", "-maxrate", "4000k", "-bufsize", "8000k", "-g", "25", "-keyint_min", "25",
                        "-sc_threshold", "0", "-c:a", "aac", "-b:a", "128k", str(path)], check=True)
    return path


async def encode(plan: transcode.Plan, root: Path) -> tuple[float, float]:
    """CPU and wall seconds of one ``transcode.encode``."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    cpu, wall = children_cpu(), time.perf_counter()
    await transcode.encode(plan, root / "out", root)
    return children_cpu() - cpu, time.perf_counter() - wall


async def run(source: Path, root: Path, rounds: int) -> None:
    probe = await prober.probe(source)
    plan = transcode.make_plan(probe, source, EditList())
    plan = replace(plan, gain_db=transcode.loudness_gain((await transcode.measure_audio(plan, root)).loudness_lufs))
    cpu, wall = children_cpu(), time.perf_counter()
    verdict = await passthrough.decide(probe, plan)
    decided = (children_cpu() - cpu, time.perf_counter() - wall)
    assert verdict.copy, verdict.reason
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for number in range(rounds):
        for copy in (True, False):
            results[copy].append(await encode(replace(plan, copy_top=copy), root / f"{copy}-{number}"))
    print(f"decision: {decided[0]:.2f} CPU-s, {decided[1]:.2f} s ({verdict.reason})")
    for copy, runs in results.items():
        figures = ", ".join(f"{c:.1f} CPU-s / {w:.1f} s" for c, w in runs)
        print(f"{'top rung copied' if copy else 'all encoded':>16}: {figures}")
    copied = min(c for c, _ in results[True])
    full = min(c for c, _ in results[False])
    print(f"CPU with the top rung copied: {copied / full:.2f}x the whole ladder ({copied:.1f} vs {full:.1f} CPU-s, "
          f"best of {rounds}); with the decision: {(copied + decided[0]) / full:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the generated source here (reused next time)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="clipfeed-bench-"))
    cache = args.keep or root
    cache.mkdir(parents=True, exist_ok=True)
    try:
        source = upload(cache / f"upload-{args.seconds:g}s.mp4", args.seconds)
        print(f"load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; "
              f"source {args.seconds:g} s 1920x1080 @ 25 fps, {source.stat().st_size * 8 / args.seconds / 1e6:.2f} "
              "Mbit/s")
        asyncio.run(run(source, root, args.rounds))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
