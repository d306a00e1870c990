"""Search and suggest latency at a fixed request rate on each engine, against baselines from
the same run: the bare ``/healthz`` through the same HTTP stack, and a ``LIKE '%q%'`` scan of
the same documents straight on the database (no HTTP: what a naive search would cost).

    .venv/bin/python bench/search.py [--clips 100000] [--users 20000] [--rate 50] [--seconds 20]
                                     [--engines sqlite,postgres] [--processes 1]
                                     [--keep DIR] [--only search,suggest,...]

``--keep DIR`` seeds each engine's catalogue once and reuses it on later runs (a SQLite file in
DIR, a PostgreSQL database named after the catalogue's size on the server the tests use), so a
run that changes only the code skips the minutes of seeding; ``--only`` runs some scenarios.

Set-up per engine (indexing timed): a scratch SQLite file or PostgreSQL database, users and
ready public clips inserted in bulk (captions of 4-10 words drawn Zipf-wise from 3,000
synthetic words, 1-3 of 500 hashtags), then ``clipfeed search reindex``'s rebuild (lexical,
with the typo neighbourhood of every word), then semantic vectors (``seed_vectors``: from the
real model's vectors of each clip's words; how well real vectors match meanings is the
relevance set's measure in tests/search). Then ``clipfeed serve`` starts as its own process
(``--processes`` API processes sharing the port) and the open-loop load generator of
``bench/feed.py`` sends each scenario at ``--rate``: search (a mix of words, typos, prefixes,
two-word, ``#tag`` and ``@handle`` queries, ``mode=lexical``; five of six new to a process, a
worst case for its caches), search of popular queries (the same kinds of queries drawn
Zipf-wise from a pool of 2,000, as a search log's head repeats: a model of real traffic, not a
measurement of it), both again as the app asks them (``mode=hybrid``, the default: words and
meaning, the query through the sentence model), and suggest (2-6 letter prefixes, some with a
typo).
The machine's load shifts the figures: ``uptime`` is printed before and after, and the
server's CPU time per request (from ``/proc``) is given beside the latencies, since a shared
machine moves it far less than it moves latency, and so is the load generator's (it shares the
machine's cores with the server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feed import measure  # noqa: E402  (the shared open-loop load generator)

SYLLABLES = ["ka", "lo", "mi", "su", "te", "ra", "no", "vi", "da", "pe", "zu", "ha", "ri", "mo", "ne", "ta", "li",
             "so", "ku", "be", "fa", "gi"]


def vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 5)))))
    return sorted(words)


def typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]  # two letters swapped


def creator_handles(words: list[str], users: int) -> list[str]:
    return [f"{words[n % len(words)]}_{n}" for n in range(users)]


async def seed(env: dict[str, str], *, clips: int, users: int, rng: np.random.Generator,
               words: list[str], tags: list[str]) -> float:
    """Users and clips in bulk, then the index rebuilt; returns the indexing seconds."""
    import sqlalchemy as sa

    from clipfeed.accounts.models import User
    from clipfeed.bootstrap import bootstrap
    from clipfeed.clips.models import Clip
    from clipfeed.infra.db.migrate import upgrade
    from clipfeed.infra.search import open_search_index
    from clipfeed.search.indexing import rebuild
    from clipfeed.settings import Settings

    os.environ.update(env)
    settings = Settings()
    upgrade(settings.resolve(settings.database_url))
    services = await bootstrap(settings, relay=False)
    try:
        now = datetime.now(UTC)
        handles = creator_handles(words, users)
        user_ids = [services.ids.next_id() for _ in range(users)]
        async with services.db.session() as session:
            await session.execute(sa.insert(User), [
                {"id": uid, "handle": h, "email": None, "display_name": h.split("_")[0].title(), "role": "user"}
                for uid, h in zip(user_ids, handles, strict=True)])
        zipf = np.minimum(rng.zipf(1.3, size=clips * 10), len(words)) - 1
        rows = []
        for n in range(clips):
            caption = " ".join(words[int(z)] for z in zipf[n * 10:n * 10 + int(rng.integers(4, 11))])
            clip_tags = sorted({tags[int(t)] for t in rng.integers(0, len(tags), size=int(rng.integers(1, 4)))})
            published = now - timedelta(minutes=int(rng.integers(0, 60 * 24 * 90)))
            rows.append({"id": services.ids.next_id(), "owner_id": user_ids[int(rng.integers(0, users))],
                         "caption": caption, "hashtags": clip_tags, "visibility": "public", "status": "ready",
                         "media": {}, "duration_ms": int(rng.integers(5, 90)) * 1000, "published_at": published,
                         "created_at": published, "updated_at": published})
        for start in range(0, len(rows), 5000):
            async with services.db.session() as session:
                await session.execute(sa.insert(Clip), rows[start:start + 5000])
        started = time.perf_counter()
        await rebuild(db=services.db, index=open_search_index(services.db), vectors=False)
        seconds = time.perf_counter() - started
        if not services.db.is_sqlite:
            # As autovacuum soon would after the bulk insert: plans from real statistics, and the
            # GIN indexes' pending lists merged (every query scans a pending list: a rare word
            # cost 4.9 ms instead of 0.5 at 100k clips).
            async with services.db.engine.connect() as conn:
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                    sa.text("VACUUM ANALYZE"))
        return seconds
    finally:
        await services.close()


async def seed_vectors(env: dict[str, str], *, words: list[str], tags: list[str]) -> float:
    """Semantic vectors for every listed clip that has none (a kept catalogue seeded before
    they were measured gets them once); returns the seconds taken. Encoding 100,000 captions with
    the sentence model would take most of an hour on two cores, so each clip's vector is the
    normalised mean of the model's vectors of its words and hashtags (3,500 encodings): the same
    model's space, and a query still goes through the real model at request time. What a search
    costs does not depend on how well these vectors match meanings; how well real ones do is the
    relevance set's measure (tests/search)."""
    import sqlalchemy as sa

    from clipfeed.clips.models import Clip
    from clipfeed.infra.db import Database, utcnow
    from clipfeed.infra.search.tables import SearchClipVector
    from clipfeed.media.embedding import text_encoder
    from clipfeed.search.semantic import MODEL
    from clipfeed.settings import Settings

    settings = Settings(**{"database_url": env["CLIPFEED_DATABASE_URL"]})  # type: ignore[arg-type]
    db = Database(settings.resolve(settings.database_url))
    started = time.perf_counter()
    try:
        async with db.session() as session:
            if await session.scalar(sa.select(sa.func.count()).select_from(SearchClipVector)):
                return 0.0
            clips = (await session.execute(sa.select(Clip.id, Clip.caption, Clip.hashtags))).all()
        vocabulary = [*words, *tags]
        matrix = text_encoder(2).encode_many(vocabulary)
        position = {w: n for n, w in enumerate(vocabulary)}
        now = utcnow()
        rows = []
        for clip_id, caption, hashtags in clips:
            found = [position[w] for w in [*caption.split(), *(hashtags or [])] if w in position]
            vector = matrix[found].mean(axis=0)
            vector /= np.linalg.norm(vector)
            rows.append({"clip_id": clip_id, "vector": vector.astype("<f4").tobytes(), "model": MODEL,
                         "updated_at": now})
        for start in range(0, len(rows), 5000):
            async with db.session() as session:
                await session.execute(sa.insert(SearchClipVector), rows[start:start + 5000])
        return time.perf_counter() - started
    finally:
        await db.close()


async def like_baseline(env: dict[str, str], queries: list[str]) -> dict[str, float]:
    """The naive search: ``document LIKE '%q%'`` on the same table, one query at a time."""
    import sqlalchemy as sa

    from clipfeed.infra.db import Database
    from clipfeed.settings import Settings

    settings = Settings(**{"database_url": env["CLIPFEED_DATABASE_URL"]})  # type: ignore[arg-type]
    db = Database(settings.resolve(settings.database_url))
    latencies = []
    try:
        for q in queries:
            started = time.perf_counter()
            async with db.session() as session:
                await session.execute(sa.text("SELECT clip_id FROM search_clips WHERE document LIKE :q "
                                              "ORDER BY published_at DESC LIMIT 20"), {"q": f"%{q}%"})
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await db.close()
    return {"p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99)),
            "requests": len(queries), "failures": 0, "rps": 0.0}


def kept_postgres(server_url: str, name: str) -> str:
    """The kept catalogue's database on ``server_url``, created empty the first time."""
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


async def forget_queries(env: dict[str, str]) -> None:
    """Bring a kept catalogue to the code's schema and empty the query log its earlier runs
    filled."""
    import sqlalchemy as sa

    from clipfeed.infra.db import Database
    from clipfeed.infra.db.migrate import upgrade
    from clipfeed.settings import Settings

    settings = Settings(**{"database_url": env["CLIPFEED_DATABASE_URL"]})  # type: ignore[arg-type]
    upgrade(settings.resolve(settings.database_url))
    db = Database(settings.resolve(settings.database_url))
    try:
        async with db.session() as session:
            await session.execute(sa.text("DELETE FROM search_queries"))
    finally:
        await db.close()


def search_queries(rng: np.random.Generator, words: list[str], tags: list[str], handles: list[str],
                   count: int) -> list[str]:
    common = words[:300]
    out = []
    for n in range(count):
        word = common[int(rng.integers(0, len(common)))]
        kind = n % 6
        tag, handle = tags[int(rng.integers(0, len(tags)))], handles[int(rng.integers(0, len(handles)))]
        out.append([word, typo(word, rng), word[:max(3, len(word) - 2)],
                    f"{word} {common[int(rng.integers(0, len(common)))]}", f"#{tag}", f"@{handle}"][kind])
    return out


def popular_queries(rng: np.random.Generator, pool: list[str], count: int, exponent: float = 1.0) -> list[str]:
    """``count`` queries drawn from ``pool`` with Zipf-like popularity (the n-th most popular
    drawn in proportion to 1/n**exponent)."""
    weights = 1.0 / np.arange(1, len(pool) + 1) ** exponent
    return [pool[int(i)] for i in rng.choice(len(pool), size=count, p=weights / weights.sum())]


def suggest_queries(rng: np.random.Generator, words: list[str], count: int) -> list[str]:
    out = []
    for n in range(count):
        word = words[int(rng.integers(0, 300))]
        prefix = word[:int(rng.integers(2, 7))]
        out.append(typo(prefix, rng) if n % 4 == 0 else prefix)
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its live children (the API processes of
    ``serve --processes N``) have used: unlike latency, barely moved by what else the machine
    runs, so the per-request cost is comparable across runs on a shared machine."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # itself, or a child
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def generator_seconds() -> float:
    """CPU time of this process's ended children: the load generator's processes, which
    ``measure`` waits for (the server runs until the end), so that what the generator took from
    the same two cores is known."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_engine(engine: str, args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, dict[str, float]]:
    from tests.services import free_port, postgres_database, postgres_server, wait_for_port

    rng = np.random.default_rng(11)
    words = vocabulary(rng, 3000)
    tags = [f"{w}{n}" for n, w in enumerate(vocabulary(rng, 500))]
    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="clipfeed-bench-search-"))
    port = free_port()
    kept = Path(args.keep) / f"{engine}-{args.clips}-{args.users}" if args.keep else None
    if engine == "postgres":
        server_url = stack.enter_context(postgres_server())
        database = (kept_postgres(server_url, f"clipfeed_bench_search_{args.clips}_{args.users}") if kept
                    else stack.enter_context(postgres_database(server_url)))
    else:
        database = f"sqlite:///{kept or tmp}/clipfeed.db"
    data_dir = str(kept) if kept and engine == "sqlite" else tmp
    env = {"CLIPFEED_DATA_DIR": data_dir, "CLIPFEED_DATABASE_URL": database, "CLIPFEED_INPROCESS_WORKERS": "none",
           "CLIPFEED_PORT": str(port), "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_NODE_ID": "9"}
    handles = creator_handles(words, args.users)
    marker = kept / "seeded" if kept else None
    if marker and marker.exists():
        seconds = float(marker.read_text())
        asyncio.run(forget_queries(env))  # each run's suggestions start from the same query log
        print(f"{engine}: reusing the catalogue in {kept} (indexed in {seconds:.0f} s when seeded)")
    else:
        seconds = asyncio.run(seed(env, clips=args.clips, users=args.users, rng=np.random.default_rng(12),
                                   words=words, tags=tags))
        if marker:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{seconds}")
    print(f"{engine}: indexed {args.clips} clips and {args.users} creators in {seconds:.0f} s "
          f"({args.clips / seconds:.0f} clips/s)")
    if took := asyncio.run(seed_vectors(env, words=words, tags=tags)):
        print(f"{engine}: semantic vectors written in {took:.0f} s")
    count = int(args.rate * args.seconds)
    results = {"indexing clips/s": {"value": args.clips / seconds}}
    searches = search_queries(rng, words, tags, handles, count)
    results["LIKE '%q%' (database, sequential)"] = asyncio.run(
        like_baseline(env, [q.lstrip("#@") for q in searches[:200]]))
    serving = {**os.environ, **env}
    if args.processes > 1:  # each process takes a node ID of its own (serve refuses one for all)
        serving.pop("CLIPFEED_NODE_ID", None)
    server = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve", "--port", str(port),
                               "--processes", str(args.processes)], env=serving, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, timeout=60)
        measure(port, [("/healthz", {})] * 50, args.rate)  # warm-up: connections, first imports
        popular = np.random.default_rng(13)  # its own draws: the other scenarios' queries stay as they were
        measure(port, [(f"/v1/search?{urlencode({'q': q, 'mode': 'lexical'})}", {}) for q in searches[:50]], args.rate)
        measure(port, [(f"/v1/search?{urlencode({'q': q})}", {}) for q in searches[-20:]], 2)  # the model loaded
        popular_searches = popular_queries(popular, search_queries(popular, words, tags, handles, 2000), count)
        scenarios = {
            "/healthz": [("/healthz", {})] * count,
            "search": [(f"/v1/search?{urlencode({'q': q, 'mode': 'lexical'})}", {}) for q in searches],
            "search (popular queries)": [(f"/v1/search?{urlencode({'q': q, 'mode': 'lexical'})}", {})
                                         for q in popular_searches],
            # What the app asks (the API's default): words and meaning.
            "search (hybrid)": [(f"/v1/search?{urlencode({'q': q})}", {}) for q in searches],
            "search (hybrid, popular queries)": [(f"/v1/search?{urlencode({'q': q})}", {}) for q in popular_searches],
            "suggest": [(f"/v1/search/suggest?{urlencode({'q': q})}", {}) for q in suggest_queries(rng, words, count)]}
        for name, requests in scenarios.items():
            if args.only and name not in args.only.split(","):
                continue
            before, client = cpu_seconds(server.pid), generator_seconds()
            results[name] = measure(port, requests, args.rate)
            results[name]["cpu_ms"] = (cpu_seconds(server.pid) - before) * 1000 / len(requests)
            results[name]["client_ms"] = (generator_seconds() - client) * 1000 / len(requests)
    finally:
        server.terminate()
        server.wait(15)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="per scenario")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--processes", type=int, default=1, help="API processes of clipfeed serve (one per core)")
    parser.add_argument("--keep", help="a folder to keep each engine's seeded catalogue in, reused by later runs")
    parser.add_argument("--only", help="scenarios to run, by name, comma-separated (default: all)")
    args = parser.parse_args()
    print(f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    table: dict[str, dict[str, dict[str, float]]] = {}
    for engine in args.engines.split(","):
        with contextlib.ExitStack() as stack:
            table[engine] = run_engine(engine, args, stack)
    print(f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print("| engine | scenario | p50 ms | p99 ms | requests | failures | achieved req/s | server CPU ms/request "
          "| load generator CPU ms/request |")
    print("|---|---|---|---|---|---|---|---|---|")
    for engine, rows in table.items():
        for name, row in rows.items():
            if "value" in row:
                print(f"| {engine} | {name} | {row['value']:.0f} | | | | |")
                continue
            cpu = f"{row['cpu_ms']:.1f}" if "cpu_ms" in row else ""
            client = f"{row['client_ms']:.1f}" if "client_ms" in row else ""
            print(f"| {engine} | {name} | {row['p50']:.1f} | {row['p99']:.1f} | {row['requests']:.0f} | "
                  f"{row['failures']:.0f} | {row['rps']:.1f} | {cpu} | {client} |")


if __name__ == "__main__":
    main()
