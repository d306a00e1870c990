"""Upload throughput: tus uploads of a 200 MiB file to a real server process on loopback, against
a raw sequential write (+ fsync) of the same bytes to the same disk, measured in the same run.

    .venv/bin/python bench/upload.py [--size-mib 200] [--chunk-mib 5 --chunk-mib 64] [--streams 4]

The server is ``clipfeed serve`` (uvicorn) with embedded engines in a temporary folder on the
same filesystem as the baseline file; clients are tuspy (as ``clipfeed upload`` uses). The file
is a real MP4 (moov first) followed by a large ``free`` box of random bytes, so every upload goes
through validation and hand-off like a real one. Goal: one stream ≥ 60 % of the raw write.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.uploads.served import Served  # noqa: E402

MiB = 1024 * 1024
SAMPLE = Path(os.environ.get("CLIPFEED_SHARED_DIR", ROOT.parent / "shared")) / "media" / "bigbuckbunny.mp4"


def make_file(folder: Path, size: int) -> Path:
    """An MP4 with its moov first, padded with a ``free`` box of random bytes to ``size``."""
    head = folder / "head.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(SAMPLE), "-c", "copy", "-movflags", "+faststart",
                    str(head)], check=True)
    body = head.read_bytes()
    pad = size - len(body)
    path = folder / "payload.mp4"
    with open(path, "wb") as out:
        out.write(body)
        out.write(pad.to_bytes(4, "big") + b"free")
        left = pad - 8
        while left:
            block = os.urandom(min(left, 8 * MiB))
            out.write(block)
            left -= len(block)
    head.unlink()
    return path


def raw_write(source: Path, folder: Path) -> float:
    """Seconds to copy ``source`` (from the page cache) to a new file on the same disk + fsync."""
    target = folder / "raw.bin"
    started = time.perf_counter()
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while block := reader.read(8 * MiB):
            writer.write(block)
        writer.flush()
        os.fsync(writer.fileno())
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def tus_upload(url: str, token: str, path: Path, chunk: int) -> str:
    from tusclient import client as tus

    uploader = tus.TusClient(f"{url}/v1/uploads/", headers={"Authorization": f"Bearer {token}"}).uploader(
        file_path=str(path), chunk_size=chunk, metadata={"filename": "bench.mp4", "caption": "bench"})
    uploader.upload()
    clip = uploader.request.response_headers.get("clipfeed-clip-id")
    if not clip:
        raise RuntimeError(f"upload did not become a clip: {uploader.request.response_content!r}")
    return str(clip)


def timed_uploads(url: str, token: str, path: Path, chunk: int, streams: int) -> float:
    errors: list[BaseException] = []

    def one() -> None:
        try:
            tus_upload(url, token, path, chunk)
        except BaseException as exc:  # report after the run
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(streams)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--chunk-mib", type=int, action="append")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chunks = args.chunk_mib or [5, 64]
    size = args.size_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="clipfeed-bench-upload-", dir=ROOT / "var" if (ROOT / "var").exists()
                                 else None))
    served = Served(work / "server", {"CLIPFEED_INPROCESS_WORKERS": "none",
                                      "CLIPFEED_UPLOAD_DAILY_BYTES": str(1 << 40),
                                      "CLIPFEED_UPLOAD_PATCH_RATE_PER_MINUTE": "100000"})
    try:
        payload = make_file(work, size)
        raw = statistics.median(raw_write(payload, work) for _ in range(args.repeat))
        served.start()
        token = served.register("bench")
        print(f"load before: {os.getloadavg()[0]:.2f} (1 min average), {os.cpu_count()} cores")
        print(f"file: {args.size_mib} MiB; same filesystem: {work}")
        print("| what | MiB/s | vs raw write |\n|---|---:|---:|")
        print(f"| raw sequential write + fsync (baseline, median of {args.repeat}) | "
              f"{size / MiB / raw:,.0f} | 1.00x |")
        for chunk in chunks:
            one = statistics.median(timed_uploads(served.url, token, payload, chunk * MiB, 1)
                                    for _ in range(args.repeat))
            print(f"| 1 tus upload, {chunk} MiB chunks (median of {args.repeat}) | {size / MiB / one:,.0f} | "
                  f"{raw / one:.2f}x |")
            many = timed_uploads(served.url, token, payload, chunk * MiB, args.streams)
            total = args.streams * size / MiB / many
            print(f"| {args.streams} concurrent tus uploads, {chunk} MiB chunks (aggregate) | {total:,.0f} | "
                  f"{total / (size / MiB / raw):.2f}x |")
        print(f"load after: {os.getloadavg()[0]:.2f}")
        # Every upload above became a clip: the server really stored what it acknowledged.
        clips = httpx.get(f"{served.url}/v1/users/bench/clips?limit=100",
                          headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["items"]
        print(f"clips created: {len(clips)}")
    finally:
        served.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
