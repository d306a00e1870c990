"""Posting a 60 s 1080p phone clip from the web app, with and without client-side compression,
on loopback and on a 10 Mbit/s uplink, against the same file uploaded by tuspy from Python in
the same run.

    .venv/bin/python bench/web_create.py [--seconds 60] [--bitrate 20M] [--until ready|uploaded] [--throttled-only]

Set-up (not timed): the source is made from a shared clip with FFmpeg (Big Buck Bunny looped to
``--seconds``, scaled to 1920x1080 at 30 fps, H.264 High at a constant ``--bitrate``, about what a
phone records at 1080p, and AAC); ``clipfeed serve`` on a scratch data directory with a
``clipfeed worker media`` process on it (the full ladder, as in production); the app built into
the package if missing. Then, one after the other (each waits for its clip to be ready):

* tuspy from Python on loopback (the baseline): upload time and post-to-ready;
* the app in Debian's Chromium (``bench/web_create.mjs``, 390x844) on loopback, compression
  offered: whether it compresses (it should not: the upload is quicker);
* the app on loopback sending the original;
* the app with DevTools throttling the uplink to 10 Mbit/s, sending the original ("Send the
  original" pressed as soon as it is offered);
* the same with compression: from the pick (compression included) to ready. The compressed file
  goes up while it is encoded, so "to the server" (pick to uploaded) is the figure to compare:
  the table also says when sending began and how much was on the server at the post, since
  "post to uploaded" is then only the tail.

Goal (issue 16): on the 10 Mbit/s uplink, with compression at least 2x faster from pick to ready
than the original. ``--until uploaded`` stops each run when the last byte is in (no media worker
runs, so no clip is processed): what compression changes is the time to get the file to the
server, and on a busy machine each 60 s clip's ladder can take over ten minutes. The figures
depend on the machine's load: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services import shared_media, stop_process  # noqa: E402
from tests.web.conftest import CREATOR, serve_stack  # noqa: E402

TEN_MBIT = 10_000_000 // 8


def make_source(folder: Path, seconds: int, bitrate: str) -> Path:
    path = folder / f"phone-1080p-{seconds}s-{bitrate}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(shared_media() / "bigbuckbunny.mp4"),
                    "-t", str(seconds), "-vf", "scale=1920:1080,fps=30", "-c:v", "libx264", "-profile:v", "high",
                    "-preset", "ultrafast", "-b:v", bitrate, "-minrate", bitrate, "-maxrate", bitrate,
                    "-bufsize", bitrate, "-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-b:a", "128k",
                    "-movflags", "+faststart", str(path)], check=True, timeout=1800)
    return path


def wait_ready(url: str, token: str, clip_id: str) -> str:
    while True:
        status = httpx.get(f"{url}/v1/clips/{clip_id}/status", headers={"Authorization": f"Bearer {token}"},
                           timeout=30).json()
        if status["status"] in ("ready", "rejected", "failed"):
            return str(status["status"])
        time.sleep(0.25)


def tuspy_baseline(url: str, token: str, path: Path, until: str) -> dict[str, float | str]:
    from tusclient import client as tus

    started = time.perf_counter()
    uploader = tus.TusClient(f"{url}/v1/uploads/", headers={"Authorization": f"Bearer {token}"}).uploader(
        file_path=str(path), chunk_size=5 * 1024 * 1024, metadata={"filename": path.name, "caption": "bench: tuspy"})
    uploader.upload()
    uploaded = time.perf_counter() - started
    if until != "ready":
        return {"uploaded": uploaded}
    clip_id = uploader.request.response_headers.get("clipfeed-clip-id")
    status = wait_ready(url, token, str(clip_id))
    return {"uploaded": uploaded, "ready": time.perf_counter() - started, "status": status}


def browser(url: str, session: dict, path: Path, *, uplink: int, compress: bool, until: str, post: bool = True) -> dict:
    setup = {"url": url, "session": session, "file": str(path), "uplink": uplink, "compress": compress, "post": post,
             "until": until}
    run = subprocess.run(["node", str(ROOT / "bench" / "web_create.mjs"), json.dumps(setup)], capture_output=True,
                         text=True, timeout=7200)
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-3000:])
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def seconds(milliseconds: float | None) -> str:
    return "—" if milliseconds is None else f"{milliseconds / 1000:.1f} s"


def print_table(size: int, base: dict | None, rows: list[tuple[str, dict]], *, ready: bool) -> None:
    """One row per run. A compressed file goes up while it is encoded: "sending from" and "on the
    server at post" show the overlap, and "pick to uploaded" is the time to the server."""
    print("\n| what | sent | pick to editor (compression) | sending from | on the server at post | post to uploaded "
          f"| pick to uploaded (to the server) |{' pick to ready |' if ready else ''}"
          f"\n|---|---:|---:|---:|---:|---:|---:|{'---:|' if ready else ''}")
    if base is not None:
        tail = f" {float(base['ready']):.1f} s |" if ready else ""
        print(f"| tuspy, loopback (baseline) | {size / 1e6:.1f} MB | — | 0.0 s | — | {base['uploaded']:.1f} s "
              f"| {base['uploaded']:.1f} s |{tail}")
    for label, seen in rows:
        tail = f" {seen['ready'] / 1000:.1f} s |" if ready else ""
        print(f"| app, {label} | {seen['total']} | {seen['form'] / 1000:.1f} s | {seconds(seen['sending'])} "
              f"| {seen['sentAtPost'] / 1e6:.1f} MB | {(seen['uploaded'] - seen['post']) / 1000:.1f} s "
              f"| {seen['uploaded'] / 1000:.1f} s |{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--bitrate", default="20M")
    parser.add_argument("--until", choices=["uploaded", "ready"], default="ready")
    parser.add_argument("--throttled-only", action="store_true",
                        help="only the two 10 Mbit/s runs (the goal's pair), without the loopback ones")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clipfeed-bench-create-") as scratch:
        root = Path(scratch)
        source = make_source(root, args.seconds, args.bitrate)
        size = source.stat().st_size
        with serve_stack(root, clips=0) as stack:
            assert stack.data_dir is not None
            env = {**os.environ, "CLIPFEED_DATA_DIR": str(stack.data_dir), "CLIPFEED_PUBLIC_URL": stack.url,
                   "CLIPFEED_LOG_LEVEL": "INFO", "CLIPFEED_LOG_JSON": "true"}
            worker = None
            worker_log = root / "media-worker.log"
            if args.until == "ready":
                with worker_log.open("wb") as out:
                    worker = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "worker", "media"], env=env,
                                              stdout=out, stderr=subprocess.STDOUT)
            try:
                pair = httpx.post(f"{stack.url}/v1/auth/login", json={"login": CREATOR["handle"],
                                  "password": CREATOR["password"]}, timeout=30).json()
                session = {"access": pair["access_token"], "refresh": pair["refresh_token"], "user": pair["user"]}
                token = pair["access_token"]
                print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores, shared)")
                print(f"source: {args.seconds} s 1920x1080 30 fps H.264 at {args.bitrate}bit/s + AAC, "
                      f"{size / 1e6:.1f} MB")
                runs = [("10 Mbit/s, original", TEN_MBIT, False), ("10 Mbit/s, compressed", TEN_MBIT, True)]
                base = None
                if not args.throttled_only:
                    base = tuspy_baseline(stack.url, token, source, args.until)
                    print(f"tuspy, loopback: {json.dumps(base)}", flush=True)
                    offered = browser(stack.url, session, source, uplink=-1, compress=True, until=args.until,
                                      post=False)
                    print(f"app, loopback, compression offered: editor after {offered['form'] / 1000:.1f} s; "
                          f"{offered['note']}", flush=True)
                    runs.insert(0, ("loopback, original", -1, False))
                rows = []
                for label, uplink, compress in runs:
                    seen = browser(stack.url, session, source, uplink=uplink, compress=compress, until=args.until)
                    rows.append((label, seen))
                    print(f"app, {label}: {json.dumps(seen)}", flush=True)
                end = "ready" if args.until == "ready" else "uploaded"
                print_table(size, base, rows, ready=args.until == "ready")
                original, compressed = rows[-2][1], rows[-1][1]
                print(f"\n10 Mbit/s, to the server: original {original['uploaded'] / 1000:.1f} s, compressed "
                      f"{compressed['uploaded'] / 1000:.1f} s (encoded after {seconds(compressed['encoded'])}, "
                      f"sending from {seconds(compressed['sending'])}): "
                      f"{original['uploaded'] / compressed['uploaded']:.2f}x faster")
                print(f"10 Mbit/s, pick to {end}: original {original[end] / 1000:.1f} s, compressed "
                      f"{compressed[end] / 1000:.1f} s: {original[end] / compressed[end]:.2f}x faster (goal 2x); "
                      f"note: {compressed['note']}")
                if base is not None:
                    loopback = rows[0][1]
                    print(f"app vs tuspy on loopback, upload: {(loopback['uploaded'] - loopback['post']) / 1000:.1f} s "
                          f"vs {base['uploaded']:.1f} s")
                print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
                if worker_log.exists():  # whether each clip's top rung was copied, and why not
                    for line in worker_log.read_text(errors="replace").splitlines():
                        if '"media.passthrough"' in line:
                            event = json.loads(line)
                            print(f"clip {event.get('clip_id')}: top rung copied: {event.get('copy_top')} "
                                  f"({event.get('reason')})")
            finally:
                if worker:
                    stop_process(worker, grace=15)


if __name__ == "__main__":
    main()
