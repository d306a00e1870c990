"""The web app in Debian's Chromium on loopback, against a bare page that plays the same clips
with hls.js and nothing else, measured in the same run.

    .venv/bin/python bench/web.py [--clips 12] [--swipes 30] [--runs 5]

Set-up (not timed): ``clipfeed serve`` on a scratch data directory with its stream worker in
process, a creator and ``--clips`` ready clips published through the quick ladder (the one
the web journeys use: real CMAF HLS renditions of a sample clip), the app built into the
package if missing. Then ``bench/web.mjs`` measures, at 390×844:

* first frame, cold (a new browser context: empty HTTP cache) and warm (the same page loaded
  again), over ``--runs`` loads each: from navigation start until a video presents a frame;
* swipe to play, over ``--swipes`` swipes: from the key press (the app, whose next clip waits
  buffered in its own player) or the switch (the bare page, which fetches the next clip's
  prefetch URLs into the cache first and starts hls.js on the switch) until the next clip
  presents a frame;
* the JavaScript the feed route loads, gzipped (level 6, as a server would send it).

The figures depend on the machine's load: the command prints ``uptime`` before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services import free_port, stop_process, wait_for_port  # noqa: E402
from tests.web.conftest import _seed, _wait_for_feed, built_app, js_modules  # noqa: E402


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--swipes", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    built_app()
    js_modules()
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory(prefix="clipfeed-bench-web-") as scratch:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "CLIPFEED_DATA_DIR": f"{scratch}/data", "CLIPFEED_PORT": str(port),
               "CLIPFEED_INPROCESS_WORKERS": "stream", "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_PUBLIC_URL": url}
        with open(f"{scratch}/server.log", "wb") as log:
            server = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve"], env=env, stdout=log,
                                      stderr=subprocess.STDOUT)
            try:
                wait_for_port(port, server, timeout=90)
                # The app's feed never serves a viewer a clip twice: each swipe needs a clip of its
                # own, or the last swipes would wait at the end of the feed for ever.
                clip_ids = asyncio.run(_seed(Path(scratch) / "data", url, max(args.clips, args.swipes + 2)))
                _wait_for_feed(url, len(clip_ids))
                setup = {"url": url, "clips": clip_ids, "swipes": args.swipes, "runs": args.runs,
                         "web": str(ROOT / "web")}
                run = subprocess.run(["node", str(ROOT / "bench" / "web.mjs"), json.dumps(setup)], cwd=ROOT,
                                     capture_output=True, text=True, timeout=1800)
                if run.returncode != 0:
                    raise SystemExit(run.stderr[-4000:])
                found = json.loads(run.stdout.strip().splitlines()[-1])
                scripts = sum(len(gzip.compress(httpx.get(s, timeout=30).content, compresslevel=6))
                              for s in found["appScripts"])
            finally:
                stop_process(server, grace=15)
    print("load after: ", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"\n{'what':<34} {'bare p50':>9} {'bare p95':>9} {'app p50':>9} {'app p95':>9} {'p50 ratio':>9} "
          f"{'p95 ratio':>9}")
    for key, label in (("cold", "first frame, cold cache (ms)"), ("warm", "first frame, warm cache (ms)"),
                       ("swipe", "swipe to play (ms)")):
        bare, app = found["bare"][key], found["app"][key]
        print(f"{label:<34} {bare['p50']:>9.0f} {bare['p95']:>9.0f} {app['p50']:>9.0f} {app['p95']:>9.0f} "
              f"{_ratio(app['p50'], bare['p50']):>9} {_ratio(app['p95'], bare['p95']):>9}")
    print(f"\nJavaScript of the feed route: {len(found['appScripts'])} files, {scripts / 1000:.1f} kB gzipped")


if __name__ == "__main__":
    main()
