"""Throughput of the feed's feedback fold (what ``recs-feedback`` does per batch of playback
events), against plain ``cache.set`` calls measured in the same run on the same Redis.

    .venv/bin/python bench/recs_feedback.py [--redis redis://127.0.0.1:6379] [--events 20000]
                                            [--viewers 2000] [--batch 500]

Set-up (not timed): 5,000 clip cards and an open impression for every event, under a throwaway
prefix in database 11 (removed afterwards). Timed, in one process on one event loop:

* baseline: ``--events`` sequential ``cache.set`` calls (one round trip each);
* per event (the processor before batching): ``feedback.fold`` of one event at a time;
* batched (the processor now): ``feedback.fold`` on batches of ``--batch`` records.

The mix is a viewer's session: mostly impressions and progress, some completes, skips and likes.
Refills are not scheduled (they build feeds, which ``bench/feed.py`` measures).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import time
import uuid

import orjson

from clipfeed.infra.cache import open_cache
from clipfeed.recs import training
from clipfeed.recs.cards import ClipCard, put_cards
from clipfeed.recs.feedback import Feedback, fold
from clipfeed.recs.viewers import FeedViewer

MIX = ["impression"] * 5 + ["progress"] * 3 + ["complete"] * 2 + ["skip", "like", "replay", "share"]
CLIPS = 5000


def synthetic(count: int, viewers: int, first_id: int, rng: random.Random) -> list[Feedback]:
    people = [FeedViewer.signed_in(n + 1, region=rng.choice(["eu", "us"])) for n in range(viewers)]
    return [Feedback(first_id + n, rng.choice(people), rng.randrange(1, CLIPS + 1), rng.choice(MIX),
                     rng.choice([0.0, 3000.0, 15000.0]), time.time()) for n in range(count)]


async def main(args: argparse.Namespace) -> None:
    cache = open_cache(f"{args.redis}/11?prefix=bfb{uuid.uuid4().hex[:8]}:")
    rng = random.Random(1)
    try:
        await put_cards(cache, [ClipCard(c, 1000 + c % 300, (f"tag{c % 40}",), 15_000, time.time(), "en", "eu", None)
                                for c in range(1, CLIPS + 1)], fresh=False)
        runs = {"per event": synthetic(args.events, args.viewers, 0, rng),
                "batched": synthetic(args.events, args.viewers, 10 * args.events, rng)}
        for events in runs.values():
            await cache.set_many({training.imp_key(e.viewer.key, e.clip_id): orjson.dumps({"e": False})
                                  for e in events}, ttl=3600)
        started = time.perf_counter()
        for n in range(args.events):
            await cache.set(f"plain:{n}", b"1", ttl=60)
        baseline = args.events / (time.perf_counter() - started)

        started = time.perf_counter()
        for e in runs["per event"]:
            await fold(cache, [e])
        one_by_one = args.events / (time.perf_counter() - started)

        events = runs["batched"]
        started = time.perf_counter()
        for start in range(0, len(events), args.batch):
            await fold(cache, events[start:start + args.batch])
        batched = args.events / (time.perf_counter() - started)
    finally:
        await cache.flush()
        await cache.close()
    print(f"{args.events} events, {args.viewers} viewers, batches of {args.batch}")
    print(f"baseline cache.set:  {baseline:9.0f} calls/s")
    print(f"per event (before):  {one_by_one:9.0f} events/s  ({one_by_one / baseline:.3f} x baseline)")
    print(f"batched (now):       {batched:9.0f} events/s  ({batched / baseline:.3f} x baseline, "
          f"{batched / one_by_one:.1f} x per event)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    asyncio.run(main(parser.parse_args()))
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
