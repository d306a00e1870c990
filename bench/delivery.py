"""Delivery: time to first frame through a warm edge, a cold edge and the bare origin, and what
an edge saves the origin under a Zipf popularity load.

    .venv/bin/python bench/delivery.py [--clips 40] [--zipf-clips 200] [--sessions 4000]

A real `clipfeed serve` origin (subprocess, embedded engines in a temporary folder) and a real
nginx edge (src/clipfeed/delivery/edge.conf) on loopback; clips are a real CMAF ladder made with FFmpeg
(tests/delivery/ladder.py).

* TTFF: from a feed item's playback info to the first decoded frame, as a player does it:
  master playlist, then the start rendition's media playlist, then its init segment and first
  segment in parallel, then PyAV decodes the first video frame. One keep-alive connection per
  scenario (a player keeps its connection to the edge). Scenarios over the same clips: the
  bare origin (baseline), a cold edge (each clip's first request through it), a warm edge.
  The floor: the same four files read from the local disk and decoded, no HTTP at all.
* Zipf: sessions pick a clip with probability ∝ 1/rank^s and fetch what a start needs (master,
  playlist, init, first two segments) through a cold edge, 16 at a time. The origin's own
  request counter (Prometheus) gives the requests it saw; hit ratio = 1 - origin / edge.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.delivery import ladder  # noqa: E402
from tests.services import free_port, wait_for_port  # noqa: E402

from clipfeed.delivery.edge_server import EdgeSpec, running_edge  # noqa: E402
from clipfeed.delivery.signing import parse_keys  # noqa: E402
from clipfeed.storage.layout import attributes  # noqa: E402

KEYS = ["k1:bench-signing-secret-0123456789"]
PURGE = "bench-purge-secret"


def first_frame(init: bytes, segment: bytes) -> None:
    with av.open(io.BytesIO(init + segment), format="mp4") as container:
        for _frame in container.decode(video=0):
            return
    raise RuntimeError("no frame decoded")


def variant_uri(master: str, max_height: int) -> str:
    """The URI of the tallest variant whose short side fits ``max_height`` (lowest first)."""
    chosen, pending = "", None
    for line in master.splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = attributes(line)
        elif line and not line.startswith("#") and pending is not None:
            width, _, height = pending.get("RESOLUTION", "0x0").partition("x")
            if min(int(width), int(height)) <= max_height or not chosen:
                chosen = line.strip()
            pending = None
    return chosen


def init_and_first(media: str) -> tuple[str, str]:
    init = next(attributes(line)["URI"] for line in media.splitlines() if line.startswith("#EXT-X-MAP:"))
    first = next(line.strip() for line in media.splitlines() if line.strip() and not line.startswith("#"))
    return init, first


async def ttff(http: httpx.AsyncClient, hls_url: str, max_height: int = 360) -> float:
    """Seconds from having the playback info to a decoded first frame, as a player goes."""
    started = time.perf_counter()
    master = await http.get(hls_url)
    media = await http.get(str(master.url.join(variant_uri(master.text, max_height))))
    init_uri, first_uri = init_and_first(media.text)
    init, first = await asyncio.gather(http.get(str(media.url.join(init_uri))),
                                       http.get(str(media.url.join(first_uri))))
    assert master.status_code == media.status_code == init.status_code == first.status_code == 200
    first_frame(init.content, first.content)
    return time.perf_counter() - started


def disk_floor(folder: Path) -> float:
    started = time.perf_counter()
    text = (folder / "hls/master.m3u8").read_text()
    (folder / "v/360/index.m3u8").read_text()
    assert text
    first_frame((folder / "v/360/init.mp4").read_bytes(), (folder / "v/360/seg_00000.m4s").read_bytes())
    return time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def origin_requests(origin: str) -> float:
    text = httpx.get(f"{origin}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("clipfeed_origin_requests_total{"))


async def publish(data_dir: Path, count: int, slim: bool) -> list[int]:
    """Ready public clips on the origin's engines; slim ones carry only the 360p start path."""
    from clipfeed.accounts import service as accounts
    from clipfeed.bootstrap import running
    from clipfeed.clips import service as clips
    from clipfeed.clips.models import ClipCreate, ClipStatus
    from clipfeed.settings import Settings

    folder = ladder.ladder()
    if slim:
        slim_folder = Path(tempfile.mkdtemp(prefix="clipfeed-slim-"))
        for part in ("hls", "v/360", "img"):
            shutil.copytree(folder / part, slim_folder / part)
        folder = slim_folder
    settings = Settings(data_dir=data_dir, log_json=False, inprocess_workers="none", log_level="WARNING")
    async with running(settings) as s:
        owner = await accounts.get_by_handle(db=s.db, handle="bench") if slim else None
        if owner is None:
            owner = await accounts.create_user(db=s.db, outbox=s.outbox, ids=s.ids, settings=s.settings,
                                               handle="bench", email="bench@example.com",
                                               password="bench password 123")
        ids = []
        for _ in range(count):
            clip = await clips.create_draft(db=s.db, outbox=s.outbox, ids=s.ids, owner_id=owner.id,
                                            request=ClipCreate(caption="bench"))
            await ladder.upload(s.blobs, clip.id, folder)
            await clips.set_status(db=s.db, outbox=s.outbox, clip_id=clip.id, status=ClipStatus.ready,
                                   media=ladder.media_pointers(clip.id))
            ids.append(clip.id)
    return ids


async def zipf_load(edge: str, clip_ids: list[int], sessions: int, s: float) -> int:
    weights = [1 / (rank + 1) ** s for rank in range(len(clip_ids))]
    rng = random.Random(6)
    picks = rng.choices(clip_ids, weights=weights, k=sessions)
    paths = ["hls/master.m3u8", "v/360/index.m3u8", "v/360/init.mp4", "v/360/seg_00000.m4s", "v/360/seg_00001.m4s"]
    gate = asyncio.Semaphore(16)
    sent = 0
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_keepalive_connections=16)) as http:
        async def session(clip_id: int) -> None:
            nonlocal sent
            async with gate:
                for path in paths:
                    answer = await http.get(f"{edge}/media/clips/{clip_id}/{path}")
                    assert answer.status_code == 200, (answer.status_code, path)
                    sent += 1
        await asyncio.gather(*(session(c) for c in picks))
    return sent


async def scenario(base: str, clip_ids: list[int]) -> list[float]:
    async with httpx.AsyncClient(timeout=30) as http:
        await http.get(f"{base}/media/clips/{clip_ids[0]}/img/poster_360.webp")  # open the connection
        return [await ttff(http, f"{base}/media/clips/{c}/hls/master.m3u8") for c in clip_ids]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--zipf-clips", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=6000)
    parser.add_argument("--zipf-s", type=float, default=1.1)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="clipfeed-bench-"))
    data_dir = root / "data"
    origin_port, edge_port = free_port(), free_port()
    origin, edge = f"http://127.0.0.1:{origin_port}", f"http://127.0.0.1:{edge_port}"
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(data_dir), "CLIPFEED_PORT": str(origin_port),
           "CLIPFEED_MEDIA_SIGNING_KEYS": ",".join(KEYS), "CLIPFEED_EDGES": json.dumps({"local": [edge]}),
           "CLIPFEED_EDGE_PURGE_SECRET": PURGE, "CLIPFEED_INPROCESS_WORKERS": "none", "CLIPFEED_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spec = EdgeSpec(origin=f"127.0.0.1:{origin_port}", listen=f"127.0.0.1:{edge_port}", folder=root / "edge",
                    keys=parse_keys(KEYS), purge_secret=PURGE, agent_port=free_port(), workers=1)
    try:
        wait_for_port(origin_port, server, timeout=60)
        time.sleep(1.0)
        clip_ids = asyncio.run(publish(data_dir, args.clips, slim=False))
        zipf_ids = asyncio.run(publish(data_dir, args.zipf_clips, slim=True))
        with running_edge(spec):
            floor = [disk_floor(ladder.ladder()) for _ in clip_ids]
            bare = asyncio.run(scenario(origin, clip_ids))
            cold = asyncio.run(scenario(edge, clip_ids))
            warm = asyncio.run(scenario(edge, clip_ids))
            before = origin_requests(origin)
            started = time.perf_counter()
            sent = asyncio.run(zipf_load(edge, zipf_ids, args.sessions, args.zipf_s))
            took = time.perf_counter() - started
            seen = origin_requests(origin) - before
    finally:
        server.terminate()
        server.wait(15)
        shutil.rmtree(root, ignore_errors=True)

    base50, base95 = pct(bare, 50), pct(bare, 95)
    print(f"TTFF over {len(clip_ids)} clips (start rendition 360p; master + playlist + init + first segment + decode)")
    print("| path | p50 ms | p95 ms | p50 vs bare origin | p95 vs bare origin |")
    print("|---|---:|---:|---:|---:|")
    for name, values in (("local disk, no HTTP (floor)", floor), ("bare origin (baseline)", bare),
                         ("cold edge", cold), ("warm edge", warm)):
        p50, p95 = pct(values, 50), pct(values, 95)
        print(f"| {name} | {p50 * 1000:.1f} | {p95 * 1000:.1f} | {p50 / base50:.2f}x | {p95 / base95:.2f}x |")
    hit = 1 - seen / sent
    print(f"\nZipf s={args.zipf_s} over {len(zipf_ids)} clips, {args.sessions} sessions x 5 objects through a cold "
          f"edge: {sent} edge requests, {seen:.0f} reached the origin; hit ratio {hit * 100:.1f}% "
          f"(origin load {seen / sent:.3f}x of no-edge); {sent / took:,.0f} requests/s")
    print(f"goals: warm-edge TTFF p95 <= 150 ms: {'met' if pct(warm, 95) <= 0.150 else 'MISSED'}; "
          f"hit ratio >= 95%: {'met' if hit >= 0.95 else 'MISSED'}")
    print("load:", os.getloadavg())
    print("median of bare / warm:", statistics.median(bare) / statistics.median(warm))


if __name__ == "__main__":
    main()
