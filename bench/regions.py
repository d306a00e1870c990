"""Two regions on one machine, a real delay between them, and what viewers in each notice.

    sudo .venv/bin/python bench/regions.py [--delay-ms 40] [--seconds 30] [--rate 10] [--cut-s 30]
                                           [--media] [--json FILE]

Each region is a network namespace of its own (``cf-a-<pid>``, ``cf-b-<pid>``): its processes
see only their loopback and the link to the other region, so everything region B asks of
region A crosses the link, whatever the machine shares underneath.

* Region A, the home of the data: the PostgreSQL primary, Redis (the cache), NATS JetStream
  (the event log) and one ``clipfeed serve``.
* Region B: a streaming replica of the primary (``pg_basebackup`` across the link) and one
  ``clipfeed serve`` with ``CLIPFEED_REGION=b`` that reads the replica for the pages that
  tolerate staleness (``CLIPFEED_DATABASE_REPLICA_URLS``) and everything else, writes included,
  from A.
* With ``--media``: SeaweedFS in each region (A's is the hot store, B's the replica that A's
  lifecycle worker keeps in step, ``CLIPFEED_BLOB_URL_REPLICA``), media, stream and lifecycle
  workers in A, an origin (``serve --role origin``) on B's store and an edge cache in each
  region (``CLIPFEED_EDGES``): a clip uploaded in A is transcoded there, copied to B and played
  by B's viewers from B's edge.

The link: this kernel has no ``netem`` (``CONFIG_NET_SCH_NETEM`` is not set), so each namespace
gets a TUN device and a delay line (``bench/regions_net.py``, a process of its own) carries
every packet from one to the other after ``--delay-ms``, both ways (a round trip costs twice
that). A cut drops every packet, those in flight included, as a failed WAN link does: nothing
answers, nothing is refused. The regions' processes: ``bench/regions_stack.py``.

A client in each region (a thread inside its namespace) sends ``--rate`` requests a second:
anonymous profile reads, signed-in clip pages and comment lists, comments each read back at
once by its writer (``read_own``), and ``/healthz``. Region B's client sends its comments
either through B's API (``write``: B's process runs the transaction across the link) or
straight to A's (``write_home``: what a balancer sending writes to the home region does). The
phases, in one run: ``linked`` (the link up, with its delay from the start), ``cut`` (the link
drops for ``--cut-s``) and ``restored``. The baseline, in the same run: region A's client
sending the same requests to A's API (no link on their way), and ``/healthz`` in each region.
Reported per phase, region and kind: count, success rate, answers marked stale, p50 and p99,
how failures answered; after the cut, when a write from each region first succeeded; the
link's own figures (packets carried and dropped, the most a packet left late) and the API
processes' CPU.

Root only. Everything is torn down on the way out, failures and Ctrl+C included: the
processes (killed by their pids, then whatever is left in the two namespaces), the namespaces
and the folder. ``tests/ops/test_two_regions.py`` uses the same set-up (``TwoRegions``).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "src"))
sys.path.insert(0, str(HERE.parents[1]))

from bench.regions_net import enter_netns, in_netns, require_root  # noqa: E402
from bench.regions_stack import Region, TwoRegions  # noqa: E402

from clipfeed.cluster.openloop import send_at_rate  # noqa: E402

# --- the load ----------------------------------------------------------------------------

@dataclass
class Sample:
    phase: str
    region: str
    kind: str       # profile, clip, comments, write, read_own, healthz
    status: int     # 0: no answer
    seconds: float
    at: float = 0.0   # when it was sent (time.monotonic())
    detail: str = ""  # failures: the problem type and Retry-After; read_own: "missing"
    stale: bool = False  # answered with Clipfeed-Stale (the primary unreachable)


class RegionLoad:
    """``rate`` requests a second from a client inside ``region``, on a thread of its own. In
    region B a share of the writes goes straight to A's API (``write_home``: what a balancer
    sending writes to the home region does) instead of B's, each read back from B's API."""

    KINDS = (("profile", 0.25), ("clip", 0.15), ("comments", 0.15), ("write", 0.15), ("write_home", 0.1),
             ("healthz", 0.2))

    def __init__(self, region: Region, *, home: Region, creator: str, clip_id: int, viewers: list[tuple[str, str]],
                 own_clips: list[int], rate: float) -> None:
        self.region, self.home, self.creator, self.clip_id = region, home, creator, clip_id
        # Each viewer comments under a clip of its own, so that its comment is among the newest
        # there when it reads them back, whatever the others write meanwhile.
        self.viewers, self.own_clips, self.rate = viewers, own_clips, rate
        self.samples: list[Sample] = []
        self.phase = "idle"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _phase(self) -> str:
        return self.phase

    def _main(self) -> None:
        enter_netns(self.region.netns)
        asyncio.run(self._run())

    async def _run(self) -> None:
        import random

        rng = random.Random(self.region.name)
        # Idle connections are dropped before the server's keep-alive timeout (uvicorn: 5 s), as
        # a careful client does: else a request may go out on a connection the server is closing.
        limits = httpx.Limits(max_connections=64, keepalive_expiry=4)
        async with httpx.AsyncClient(base_url=self.region.api_url, timeout=30, limits=limits) as http:
            await send_at_rate(self.rate, self._stop, lambda: self._one(http, rng), drain_s=40)

    async def _one(self, http: httpx.AsyncClient, rng: Any) -> None:
        roll, kind = rng.random(), "healthz"
        for name, share in self.KINDS:
            if roll < share:
                kind = name
                break
            roll -= share
        if kind == "write_home" and self.region is self.home:
            kind = "write"
        viewer = rng.randrange(len(self.viewers))
        auth = {"Authorization": f"Bearer {self.viewers[viewer][1]}"}
        phase = self.phase
        if kind in ("write", "write_home"):
            base = self.home.api_url if kind == "write_home" else self.region.api_url
            await self._write(http, phase, kind, base, auth, self.own_clips[viewer])
            return
        path, headers = {"profile": (f"/v1/users/{self.creator}", {}),
                         "clip": (f"/v1/clips/{self.clip_id}", auth),
                         "comments": (f"/v1/clips/{self.clip_id}/comments", auth),
                         "healthz": ("/healthz", {})}[kind]
        self.samples.append(await _timed(phase, self.region.name, kind, http.get(path, headers=headers),
                                         now_phase=self._phase))

    async def _write(self, http: httpx.AsyncClient, phase: str, kind: str, base: str, auth: dict[str, str],
                     clip_id: int) -> None:
        """A comment (through ``base``), then at once the writer's own read of the newest
        comments from its region's API."""
        body = f"from {self.region.name} {uuid.uuid4().hex[:10]}"
        sample = await _timed(phase, self.region.name, kind, http.post(
            f"{base}/v1/clips/{clip_id}/comments", json={"body": body},
            headers={**auth, "Idempotency-Key": uuid.uuid4().hex}), now_phase=self._phase)
        self.samples.append(sample)
        if sample.status != 201:
            return
        read = await _timed(phase, self.region.name, kind.replace("write", "read_own"), http.get(
            f"/v1/clips/{clip_id}/comments", params={"sort": "new", "limit": 20}, headers=auth),
            now_phase=self._phase)
        if read.status == 200 and body not in read.detail:
            # answered without the caller's own comment: said so (stale) or not (a broken promise)
            read.status, read.detail = 299, "missing, marked stale" if read.stale else "missing"
        elif read.status == 200:
            read.detail = ""
        self.samples.append(read)


async def _timed(phase: str, region: str, kind: str, call: Any, *, now_phase: Callable[[], str]) -> Sample:
    """One request, timed. A request still out when the phase changed (the link was cut or came
    back meanwhile) is put in a phase of its own, ``before→after``."""
    started = time.monotonic()
    try:
        response = await call
    except httpx.HTTPError as exc:
        ended = now_phase()
        return Sample(phase if ended == phase else f"{phase}→{ended}", region, kind, 0, time.monotonic() - started,
                      started, type(exc).__name__)
    ended = now_phase()
    phase = phase if ended == phase else f"{phase}→{ended}"
    seconds = time.monotonic() - started
    detail = ""
    if response.status_code >= 400:
        problem = response.json() if response.headers.get("content-type", "").startswith(
            "application/problem+json") else {}
        detail = f"{str(problem.get('type', 'not problem+json')).rsplit('/', 1)[-1]} " \
                 f"retry-after={response.headers.get('retry-after', '-')}"
    elif kind.startswith("read_own"):
        detail = response.text
    return Sample(phase, region, kind, response.status_code, seconds, started, detail,
                  stale="clipfeed-stale" in response.headers)


# --- the benchmark -----------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))] if ordered else float("nan")


def summarise(samples: list[Sample]) -> list[dict[str, Any]]:
    rows = []
    order = ["linked", "linked→cut", "cut", "cut→restored", "restored"]
    keys = sorted({(s.phase, s.region, s.kind) for s in samples},
                  key=lambda k: (order.index(k[0]) if k[0] in order else 9, k[1], k[2]))
    for phase, region, kind in keys:
        group = [s for s in samples if (s.phase, s.region, s.kind) == (phase, region, kind)]
        ok = [s for s in group if 200 <= s.status < 299]
        failures: dict[str, int] = {}
        for s in group:
            if not 200 <= s.status < 299:
                key = f"{s.status or 'no answer'} {s.detail}".strip()
                failures[key] = failures.get(key, 0) + 1
        stale = sum(1 for s in group if s.stale)
        rows.append({"phase": phase, "region": region, "kind": kind, "n": len(group),
                     "ok": round(len(ok) / len(group), 4), "stale": stale,
                     "p50_ms": round(1000 * statistics.median([s.seconds for s in group]), 1),
                     "p99_ms": round(1000 * percentile([s.seconds for s in group], 0.99), 1),
                     "failures": failures})
    return rows


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    # The link keeps its delay from the start: TCP's state (round-trip estimates, congestion
    # window) is then that of a link that always had it, as between real regions.
    with TwoRegions(delay_ms=args.delay_ms, media=args.media, keep=args.keep) as regions:
        creator = regions.accounts("creator", 1)[0]
        clip_id = regions.ready_clip(creator[1], "two regions")
        loads = [RegionLoad(region, home=regions.a, creator=creator[0], clip_id=clip_id,
                            viewers=regions.accounts(f"v{region.name}", 30),
                            own_clips=regions.ready_clips(creator[1], f"for {region.name}'s viewers", 30),
                            rate=args.rate)
                 for region in (regions.a, regions.b)]
        assert regions.link is not None
        media = _media_check(regions, creator[1]) if args.media else None
        for load in loads:
            load.start()
        link_stats: dict[str, dict[str, float]] = {}
        cpu: dict[str, dict[str, float]] = {}

        def phase(name: str, seconds: float, during: Callable[[], None] | None = None) -> None:
            assert regions.link is not None
            for load in loads:
                load.phase = name
            began = time.monotonic()
            before = {n: regions.procs.cpu_seconds(n) for n in ("a-api", "b-api")}
            if during is not None:
                during()
            time.sleep(max(0.0, seconds - (time.monotonic() - began)))
            link_stats[name] = regions.link.stats()
            cpu[name] = {n: round((regions.procs.cpu_seconds(n) - before[n]) / seconds, 2) for n in before}

        try:
            for load in loads:
                load.phase = "warm-up"
            time.sleep(5)
            phase("linked", args.seconds)
            regions.link.cut()

            def play_in_b() -> None:  # B's viewers play what B's edge holds, the link cut
                assert media is not None
                time.sleep(min(3.0, args.cut_s / 4))
                media["b_edge_during_cut"] = {
                    name: f"{answer.status_code} {answer.headers.get('x-cache-status', '')}".strip()
                    for name, answer in ((name, _get(regions.b, url)) for name, url in media["urls"].items())}

            phase("cut", args.cut_s, play_in_b if media is not None else None)
            regions.link.restore()
            restored_at = time.monotonic()
            phase("restored", args.seconds)
        finally:
            for load in loads:
                load.stop()
        samples = [s for load in loads for s in load.samples if not s.phase.startswith("warm-up")]
        return {"date": time.strftime("%Y-%m-%d"), "delay_ms": args.delay_ms, "rate_per_region": args.rate,
                "seconds_per_phase": args.seconds, "cut_s": args.cut_s,
                "load_average": [round(x, 2) for x in os.getloadavg()], "rows": summarise(samples),
                "link": link_stats, "api_cpu_cores": cpu,
                "recovery": {region.name: _recovery(load, restored_at) for region, load in
                             zip((regions.a, regions.b), loads, strict=True)},
                "media": media}


def _recovery(load: RegionLoad, restored_at: float) -> dict[str, float | None]:
    """After the link came back: when the first write sent succeeded, and when the last request
    that failed was sent (seconds after the restore)."""
    after = [s for s in load.samples if s.at >= restored_at]
    first = min((s.at for s in after if s.kind == "write" and s.status == 201), default=None)
    last_failure = max((s.at for s in after if not 200 <= s.status < 299), default=None)
    return {"first_write_ok_s": None if first is None else round(first - restored_at, 2),
            "last_failure_sent_s": None if last_failure is None else round(last_failure - restored_at, 2)}


def _media_check(regions: TwoRegions, token: str) -> dict[str, Any]:
    """A clip uploaded in A is transcoded there, copied to B's store by A's lifecycle worker,
    warmed on B's edge by placement once B's viewers make it trend there, and played from B's
    edge; timings in seconds from the upload, and B's edge latency against A's."""
    from clipfeed.cluster.drill import small_clip, upload

    started = time.monotonic()
    report: dict[str, Any] = {}

    def since() -> float:
        return round(time.monotonic() - started, 1)

    clip_id = in_netns(regions.a.netns, lambda: upload(regions.a.api_url, token, small_clip(), "across regions"))
    b = regions.client(regions.b)
    mine = {"Authorization": f"Bearer {token}"}
    _until("the clip ready, seen from B",
           lambda: b.request("GET", f"/v1/clips/{clip_id}", headers=mine).json().get("status") == "ready", 300)
    report["ready_s"] = since()
    info = b.request("GET", f"/v1/clips/{clip_id}/playback", params={"network": "wifi"}).json()
    report["b_media_base_url"] = info["media_base_url"]  # B's edge: CLIPFEED_REGION=b picked it
    master = info["hls_url"]
    origin = master.replace(info["media_base_url"], "http://127.0.0.1:8001")
    _until("the clip in B's store (replication)", lambda: _get(regions.b, origin).status_code == 200, 120)
    report["in_b_store_s"] = since()
    # B's viewers play it: the stream worker ranks it in region b, placement warms B's edge
    events = [{"event_id": uuid.uuid4().hex, "type": kind, "clip_id": str(clip_id), "ts": int(time.time() * 1000),
               "session_id": uuid.uuid4().hex[:12], "device": "web", "network": "wifi", "duration_ms": 2000}
              for kind in ("play_start", "complete") for _ in range(5)]
    sent = b.request("POST", "/v1/events", json={"events": events}, headers={"X-Device-Id": "regions-bench-viewer"})
    assert sent.status_code in (200, 202), sent.text
    # the start rendition's first video segment (placement warms the video renditions)
    first = next(url for url in info["prefetch_urls"] if "/v/" in url and "/seg_" in url)
    report["audio_prefetch_warmed"] = None
    key = first.split("/media/", 1)[1]
    _until("placement to warm B's edge", lambda: _in_edge_cache(regions.folder / "b-edge", key), 120)
    report["b_edge_warmed_s"] = since()
    audio = [url for url in info["prefetch_urls"] if "/a/" in url or "audio" in url]
    report["audio_prefetch_warmed"] = [_in_edge_cache(regions.folder / "b-edge", url.split("/media/", 1)[1])
                                       for url in audio]
    report["b_edge_first_segment_cache"] = _get(regions.b, first).headers.get("x-cache-status", "")
    edge_a = master.replace(info["media_base_url"], f"http://{regions.a.address}:8080")
    for name, url in (("b_edge", master), ("a_edge_from_b", edge_a)):
        b.request("GET", url)  # cached at that edge from here on
        timings = [b.timed("GET", url)[1] for _ in range(20)]  # one kept-alive connection, as a player
        report[f"{name}_master_p50_ms"] = round(1000 * statistics.median(timings), 1)
    # played again with the link cut: two objects B's edge holds, one it does not (the MP4
    # fallback: placement warms the HLS renditions only)
    report["urls"] = {"master": master, "segment": first, "mp4_not_cached": info["mp4_url"]}
    return report


def _until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            if check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        time.sleep(1)


def _get(region: Region, url: str) -> httpx.Response:
    return in_netns(region.netns, lambda: httpx.get(url, timeout=10))  # type: ignore[no-any-return]


def _in_edge_cache(edge_dir: Path, key: str) -> bool:
    """Whether an edge holds ``key`` (media path): its cache files' ``KEY:`` lines, read from
    the disk so that asking does not fill the cache."""
    wanted = f"\nKEY: p:{key}?".encode()
    return any(wanted in path.read_bytes()[:4096] for path in (edge_dir / "cache").rglob("*") if path.is_file())


def print_report(result: dict[str, Any]) -> None:
    print(f"two regions, {result['delay_ms']} ms each way, {result['rate_per_region']} requests/s per region, "
          f"{result['seconds_per_phase']} s a phase, cut {result['cut_s']} s; load {result['load_average']}")
    print("link:", result["link"])
    print("API processes' CPU (cores):", result["api_cpu_cores"])
    print(f"{'phase':13} {'reg':3} {'kind':13} {'n':>5} {'ok':>7} {'stale':>5} {'p50 ms':>8} {'p99 ms':>8}  failures")
    for row in result["rows"]:
        print(f"{row['phase']:13} {row['region']:3} {row['kind']:13} {row['n']:5} {row['ok']:7.2%} {row['stale']:5} "
              f"{row['p50_ms']:8.1f} {row['p99_ms']:8.1f}  {row['failures'] or ''}")
    for region, recovery in result["recovery"].items():
        print(f"region {region} after the link came back: first write ok {recovery['first_write_ok_s']} s, "
              f"last failed request sent at {recovery['last_failure_sent_s']} s")
    if result.get("media"):
        print("media:", result["media"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=40.0, help="one-way delay of the link")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measured phase")
    parser.add_argument("--rate", type=float, default=10.0, help="requests a second from each region's client")
    parser.add_argument("--cut-s", type=float, default=30.0, help="how long the link stays cut")
    parser.add_argument("--media", action="store_true", help="also object stores, workers, an origin and edges")
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs) afterwards")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    require_root()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # tear down on SIGTERM as on Ctrl+C
    result = run_benchmark(args)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
