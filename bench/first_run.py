"""The first run of the demo, timed as a newcomer lives it: ``clipfeed demo`` on a fresh data
directory, the app opened in Debian's Chromium the moment the URL is printed and never
reloaded, until a clip plays.

    .venv/bin/python bench/first_run.py [--runs 2]

Each run starts from nothing (the demo's generated sample clips included, as on a first
``make demo``). Reported per run, in seconds from the URL being printed: the app's shell on
screen (the baseline: what any page of the server costs), the feed API's first clip (asked as a
new viewer every 250 ms), and the first clip playing in the page. The goal is a playing feed
within 60 s of the URL on this 2-core machine; the figures depend on the load, so ``uptime`` is
printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services import free_port  # noqa: E402
from tests.web.conftest import built_app, js_modules  # noqa: E402

GOAL_S = 60.0


def _first_served(url: str, since: float, found: dict[str, float], stop: threading.Event) -> None:
    tries = 0
    while not stop.is_set():
        tries += 1
        try:
            page = httpx.get(f"{url}/v1/feed", params={"limit": 1}, timeout=5,
                             headers={"X-Device-ID": f"firstrun{tries:06d}"}).json()
            if page.get("items"):
                found["api"] = time.time() - since
                return
        except httpx.HTTPError:
            pass
        stop.wait(0.25)


def one_run(timeout_s: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="clipfeed-first-run-") as scratch:
        port = free_port()
        env = {**os.environ, "CLIPFEED_DATA_DIR": f"{scratch}/data", "CLIPFEED_LOG_LEVEL": "WARNING"}
        began = time.time()
        demo = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "demo", "--port", str(port)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            assert demo.stdout is not None
            for line in demo.stdout:
                if line.strip() == url:
                    break
            else:
                raise SystemExit("the demo ended before printing its URL")
            printed = time.time()
            found: dict[str, float] = {}
            stop = threading.Event()
            poller = threading.Thread(target=_first_served, args=(url, printed, found, stop), daemon=True)
            poller.start()
            threading.Thread(target=lambda: [None for _ in demo.stdout or []], daemon=True).start()  # drain
            run = subprocess.run(["node", str(ROOT / "bench" / "first_run.mjs"),
                                  json.dumps({"url": url, "timeout_s": timeout_s})],
                                 cwd=ROOT, capture_output=True, text=True, timeout=timeout_s + 120)
            stop.set()
            if run.returncode != 0:
                raise SystemExit(run.stderr[-4000:])
            page = json.loads(run.stdout.strip().splitlines()[-1])
            return {"url": printed - began, "shell": page["shell"] / 1000 - printed,
                    "api": found.get("api", float("nan")), "playing": page["playing"] / 1000 - printed,
                    "reloads": page["navigations"] - 1}
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=600, help="seconds to wait for a clip to play")
    args = parser.parse_args()
    built_app()
    js_modules()
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    results = [one_run(args.timeout) for _ in range(args.runs)]
    print("load after: ", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"\n{'run':>3} {'start→URL s':>12} {'shell s':>8} {'API clip s':>11} {'playing s':>10} {'reloads':>8} "
          f"{'vs 60 s goal':>13}")
    for n, r in enumerate(results, 1):
        print(f"{n:>3} {r['url']:>12.1f} {r['shell']:>8.2f} {r['api']:>11.1f} {r['playing']:>10.1f} "
              f"{r['reloads']:>8} {r['playing'] / GOAL_S:>12.2f}x")


if __name__ == "__main__":
    main()
