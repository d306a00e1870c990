"""The transcoding ladder against the two baselines, in one run.

    .venv/bin/python bench/transcode.py [--seconds 20] [--fast-start-seconds 60] [--keep DIR]

Source: a generated 1080p30 clip with real motion (testsrc2, a moving Mandelbrot inset, and
temporal noise so no two frames are alike) and a tone, ``--seconds`` long.

* naive: one FFmpeg run per rendition (decode, scale, encode, segment), plus one for the sound;
* split: one FFmpeg run, ``split`` into the five scalers from the full-size frames, the same
  x264 settings for every rung (veryfast, capped CRF, 2 s closed GOPs);
* clipfeed: ``clipfeed.media.transcode`` as the worker runs it (probing pass for loudness,
  cascade scaling, per-rung presets from ``ladder.PROFILES``, black/frozen detection on the
  side), the same segmenting.

Each rendition's quality is PSNR and SSIM against the source scaled to the rendition's size
(Lanczos, the same reference for every method), with its bitrate. Then the fast-start figure:
the whole publication path (probe, loudness pass, encode with segments uploaded to a local
object store as they appear) on a ``--fast-start-seconds`` clip, timed until the preview master
playlist exists and FFmpeg can decode it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clipfeed.infra.blobs import open_blob_store
from clipfeed.media import ladder, transcode
from clipfeed.media import probe as prober
from clipfeed.media.edits import EditList
from clipfeed.media.publish import Publisher

NAIVE_PRESET = "veryfast"


def children_cpu() -> float:
    """CPU seconds (user + system) of the FFmpeg processes run so far: the work done, which
    other load on the machine does not inflate the way it inflates wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def generate(path: Path, seconds: float) -> Path:
    if path.exists():
        return path
    graph = ("[0:v][1:v]overlay=x='mod(t*160,1280)':y='200+100*sin(t)'[o];"
             "[o]noise=alls=3:allf=t,format=yuv420p[v]")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
                    "-f", "lavfi", "-i", "mandelbrot=size=640x360:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:beep_factor=4",
                    "-filter_complex", graph, "-map", "[v]", "-map", "2:a", "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-c:a", "aac", "-b:a", "192k",
                    str(path)], check=True)
    return path


def x264_args(spec: str, rendition: ladder.Rendition, fps: int) -> list[str]:
    """The same encoder settings for every rung (the baselines' "same x264 settings")."""
    p = rendition.profile
    return [f"-c:{spec}", "libx264", f"-preset:{spec}", NAIVE_PRESET, f"-crf:{spec}", str(p.crf),
            f"-profile:{spec}", p.profile or "high", f"-maxrate:{spec}", f"{p.maxrate_kbps}k",
            f"-bufsize:{spec}", f"{p.maxrate_kbps * 2}k", f"-g:{spec}", str(2 * fps),
            f"-keyint_min:{spec}", str(2 * fps), f"-sc_threshold:{spec}", "0"]


def hls(out: Path, names: list[str], audio: bool) -> list[str]:
    return transcode.hls_args(out, names, has_audio=audio)


def ffmpeg(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args], check=True)
    return time.perf_counter() - started


def naive(source: Path, rungs: list[ladder.Rendition], out: Path, fps: int) -> float:
    total = 0.0
    for r in rungs:
        (out / r.name).mkdir(parents=True, exist_ok=True)
        scale = f"fps={fps},scale={r.width}:{r.height},format=yuv420p"
        total += ffmpeg(["-i", str(source), "-map", "0:v", "-vf", scale, *x264_args("v:0", r, fps),
                         "-force_key_frames:v", ladder.KEYFRAMES_FIRST_CHUNK, *hls(out, [r.name], False)])
    (out / "audio").mkdir(parents=True, exist_ok=True)
    total += ffmpeg(["-i", str(source), "-map", "0:a", "-c:a", "aac", "-b:a", "128k", "-f", "hls",
                     "-hls_segment_type", "fmp4", "-hls_time", "2", "-hls_fmp4_init_filename", "init.mp4",
                     "-hls_segment_filename", str(out / "audio" / "seg_%05d.m4s"), str(out / "audio" / "index.m3u8")])
    return total


def split(source: Path, rungs: list[ladder.Rendition], out: Path, fps: int) -> float:
    for name in [r.name for r in rungs] + ["audio"]:
        (out / name).mkdir(parents=True, exist_ok=True)
    taps = "".join(f"[t{i}]" for i in range(len(rungs)))
    graph = f"[0:v]fps={fps},format=yuv420p,split={len(rungs)}{taps};" + ";".join(
        f"[t{i}]scale={r.width}:{r.height}[r{i}]" for i, r in enumerate(rungs))
    args = ["-i", str(source), "-filter_complex", graph]
    for i, r in enumerate(rungs):
        args += ["-map", f"[r{i}]", *x264_args(f"v:{i}", r, fps)]
    args += ["-map", "0:a", "-c:a", "aac", "-b:a", "128k", "-force_key_frames:v", ladder.KEYFRAMES_FIRST_CHUNK]
    return ffmpeg([*args, *hls(out, [r.name for r in rungs], True)])


async def clipfeed(source: Path, out: Path, workdir: Path) -> float:
    started = time.perf_counter()
    plan = transcode.make_plan(await prober.probe(source), source, EditList())
    measured = await transcode.measure_audio(plan, workdir)
    plan = transcode.Plan(**{**plan.__dict__, "gain_db": transcode.loudness_gain(measured.loudness_lufs)})
    await transcode.encode(plan, out, workdir)
    return time.perf_counter() - started


def joined(folder: Path) -> Path:
    playlist = (folder / "index.m3u8").read_text()
    init = re.search(r'URI="([^"]+)"', playlist)
    assert init is not None
    target = folder / "joined.mp4"
    with target.open("wb") as out:
        for name in [init.group(1), *[ln for ln in playlist.splitlines() if ln and not ln.startswith("#")]]:
            out.write((folder / name).read_bytes())
    return target


def quality(rendition: Path, source: Path, r: ladder.Rendition, fps: int) -> tuple[float, float, float]:
    """PSNR (dB), SSIM and bitrate (kbit/s) of a rendition against the source at its size."""
    graph = (f"[1:v]fps={fps},scale={r.width}:{r.height}:flags=lanczos,format=yuv420p,split[ra][rb];"
             "[0:v]format=yuv420p,split[da][db];[da][ra]psnr[p];[db][rb]ssim[s]")
    log = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-i", str(rendition), "-i", str(source),
                          "-filter_complex", graph, "-map", "[p]", "-f", "null", "-", "-map", "[s]", "-f", "null",
                          "-"], capture_output=True, text=True, check=True).stderr
    psnr = float(re.search(r"PSNR .*average:([0-9.]+|inf)", log).group(1))  # type: ignore[union-attr]
    ssim = float(re.search(r"SSIM .*All:([0-9.]+)", log).group(1))  # type: ignore[union-attr]
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration,size", "-of",
                            "default=nw=1:nk=1", str(rendition)], capture_output=True, text=True, check=True)
    duration, size = (float(x) for x in probe.stdout.split())
    return psnr, ssim, size * 8 / duration / 1000


async def fast_start(source: Path, root: Path) -> tuple[float, float]:
    """Seconds from the job's start until the preview plays, and until the encode ends."""
    started = time.perf_counter()
    shown: list[float] = []
    blobs = open_blob_store(f"file://{root / 'store'}")
    work = root / "work"
    work.mkdir()
    plan = transcode.make_plan(await prober.probe(source), source, EditList())
    measured = await transcode.measure_audio(plan, work)
    plan = transcode.Plan(**{**plan.__dict__, "gain_db": transcode.loudness_gain(measured.loudness_lufs)})

    async def preview(key: str) -> None:
        path = root / "store" / key
        check = await asyncio.create_subprocess_exec("ffmpeg", "-v", "error", "-i", str(path), "-t", "0.5",
                                                     "-f", "null", "-")
        if await check.wait() == 0:
            shown.append(time.perf_counter() - started)

    publisher = Publisher(blobs, "clips/1/", work / "out", plan.rungs, plan.fps, plan.has_audio, on_preview=preview)
    encoding = asyncio.ensure_future(transcode.encode(plan, work / "out", work))
    await publisher.follow(encoding)
    await encoding
    return (shown[0] if shown else float("nan")), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fast-start-seconds", type=float, default=60.0)
    parser.add_argument("--keep", type=Path, help="keep the generated sources here (reused next time)")
    parser.add_argument("--fast-start-only", action="store_true", help="skip the ladder comparison")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="clipfeed-bench-"))
    cache = args.keep or root
    cache.mkdir(parents=True, exist_ok=True)
    try:
        if args.fast_start_only:
            long_source = generate(cache / f"source-{args.fast_start_seconds:g}s.mp4", args.fast_start_seconds)
            print(f"load average before: {os.getloadavg()[0]:.2f}")
            preview, total = asyncio.run(fast_start(long_source, root / "fast"))
            print(f"fast start, {args.fast_start_seconds:g} s clip: preview playable after {preview:.2f} s "
                  f"(encode done after {total:.1f} s); load average after: {os.getloadavg()[0]:.2f}")
            return
        source = generate(cache / f"source-{args.seconds:g}s.mp4", args.seconds)
        fps = 30
        rungs = [r for r in ladder.renditions(1920, 1080)]
        print(f"load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; "
              f"source {args.seconds:g} s 1920x1080 @ {fps} fps")
        times, cpu = {}, {}
        for name, method in (("naive", lambda: naive(source, rungs, root / "naive", fps)),
                             ("split", lambda: split(source, rungs, root / "split", fps)),
                             ("clipfeed", lambda: asyncio.run(clipfeed(source, root / "clipfeed", root)))):
            before = children_cpu()
            times[name] = method()
            cpu[name] = children_cpu() - before
        print(f"\n{'method':10} {'wall s':>7} {'x real time':>11} {'vs naive':>9} {'CPU s':>7} {'CPU vs naive':>12}")
        for name, seconds in times.items():
            print(f"{name:10} {seconds:7.1f} {args.seconds / seconds:10.2f}x {times['naive'] / seconds:8.2f}x "
                  f"{cpu[name]:7.1f} {cpu['naive'] / cpu[name]:11.2f}x")
        print(f"\n{'rendition':10}" + "".join(f" {m + ' PSNR/SSIM/kbps':>30}" for m in times))
        for r in rungs:
            cells = []
            for method in times:
                psnr, ssim, kbps = quality(joined(root / method / r.name), source, r, fps)
                cells.append(f"{psnr:8.2f} dB {ssim:.4f} {kbps:7.0f}")
            print(f"{r.name:10}" + "".join(f" {c:>30}" for c in cells))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        long_source = generate(cache / f"source-{args.fast_start_seconds:g}s.mp4", args.fast_start_seconds)
        preview, total = asyncio.run(fast_start(long_source, root / "fast"))
        print(f"\nfast start, {args.fast_start_seconds:g} s clip: preview playable after {preview:.2f} s "
              f"(encode done after {total:.1f} s)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
