"""What a cluster runs: engines, ports, programs and the settings every program shares.

A plan is made once by ``cluster up`` and saved as ``cluster.json`` in the cluster's folder;
``status`` and ``down`` read it, and a later ``up`` keeps its ports, secrets and engines (the
throwaway engines' data lives in the folder too), so a restarted cluster is the same cluster.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from clipfeed.cluster import engines as engine_lib
from clipfeed.cluster.supervise import Program

NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
# Node ids (CLIPFEED_NODE_ID, 0-1023) by role: every process that creates rows has its own.
NODE_BASE = {"api": 0, "media": 100, "stream": 200, "batch": 300, "lifecycle": 310, "federation": 320}


@dataclass
class Counts:
    api: int = 2
    media: int = 1
    stream: int = 1
    shards: int = 2
    replicas: int = 0  # streaming replicas of the cluster's own PostgreSQL
    redis: int = 1     # Redis servers of the cluster's own cache ring

    def validate(self) -> None:
        # --media 0: transcoding runs on other machines, pointed at this cluster's engines (uploads
        # wait in the media queue until one takes them).
        if not 1 <= self.api <= 64 or not 0 <= self.media <= 32 or not 1 <= self.stream <= 32:
            raise ValueError("--api 1-64, --media 0-32 and --stream 1-32 processes")
        if not 0 <= self.shards <= 16:
            raise ValueError("--shards 0-16 shard databases")
        if not 0 <= self.replicas <= 4:
            raise ValueError("--replicas 0-4 read replicas")
        if not 1 <= self.redis <= 8:
            raise ValueError("--redis 1-8 Redis servers")


@dataclass
class Plan:
    folder: Path
    name: str
    counts: Counts
    engines_mode: str
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)     # balancer, edge, edge-agent, api-N, engines
    urls: dict[str, str] = field(default_factory=dict)      # engine kind -> server URL
    started: list[str] = field(default_factory=list)        # engine kinds this cluster runs itself
    given: list[str] = field(default_factory=list)          # engine kinds from the operator's settings
    secrets: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)      # last known, for ``down`` without supervisord

    # --- derived ---------------------------------------------------------------------------

    @property
    def public_url(self) -> str:
        return f"http://{self.host}:{self.ports['balancer']}"

    @property
    def edge_url(self) -> str:
        return f"http://{self.host}:{self.ports['edge']}"

    @property
    def database_names(self) -> list[str]:
        base = "clipfeed_" + self.name.replace("-", "_")
        return [base] + [f"{base}_shard{i}" for i in range(1, self.counts.shards + 1)]

    @property
    def replica_names(self) -> list[str]:
        return [f"postgres-replica-{i}" for i in range(self.counts.replicas)]

    def api_port(self, index: int) -> int:
        return self.ports[f"api-{index}"]

    def settings_env(self) -> dict[str, str]:
        """The CLIPFEED_* values every program of the cluster runs with."""
        env = {
            "CLIPFEED_DATA_DIR": str(self.folder / "data"),
            "CLIPFEED_PUBLIC_URL": self.public_url,
            "CLIPFEED_EDGES": json.dumps({"local": [self.edge_url]}),
            "CLIPFEED_REGION": "local",
            "CLIPFEED_MEDIA_SIGNING_KEYS": self.secrets["signing_key"],
            "CLIPFEED_EDGE_PURGE_SECRET": self.secrets["purge_secret"],
            # Redis holds what the workers compute for the API: no process runs roles inside.
            "CLIPFEED_INPROCESS_WORKERS": "none",
        }
        postgres, redis, nats, s3 = (self.urls[kind] for kind in engine_lib.KINDS)
        if "postgres" in self.given:
            parts = urlsplit(postgres)
            server, main = postgres[: -len(parts.path)] if parts.path else postgres, parts.path.lstrip("/")
            env["CLIPFEED_DATABASE_URL"] = postgres
            names = [main] + [f"{main}_shard{i}" for i in range(1, self.counts.shards + 1)]
        else:
            server, names = postgres, self.database_names
            env["CLIPFEED_DATABASE_URL"] = f"{server}/{names[0]}"
        env["CLIPFEED_DATABASE_SHARD_URLS"] = ",".join(f"{server}/{name}" for name in names[1:])
        if self.counts.replicas:
            # Each replica streams the whole server: the main database and every shard database.
            servers = [f"postgresql://postgres@{self.host}:{self.ports[replica]}" for replica in self.replica_names]
            copies = [[f"{server}/{name}" for server in servers] for name in names]
            env["CLIPFEED_DATABASE_REPLICA_URLS"] = ",".join(copies[0])
            if copies[1:]:
                env["CLIPFEED_DATABASE_SHARD_REPLICA_URLS"] = json.dumps(copies[1:])
        # Several servers: one ring over them all (clipfeed.infra.cache.redis).
        env["CLIPFEED_CACHE_URL"] = redis if "redis" in self.given else ",".join(
            f"{server}/0?prefix={self.name}:" for server in redis.split(","))
        env["CLIPFEED_LOG_URL"] = nats if "nats" in self.given else f"{nats}?prefix={self.name.replace('-', '_')}"
        if "s3" not in self.given:
            for tier, suffix in (("", ""), ("_WARM", "-warm"), ("_COLD", "-cold")):
                env[f"CLIPFEED_BLOB_URL{tier}"] = (f"s3://clipfeed-{self.name}{suffix}?endpoint={s3}&"
                                                  f"{engine_lib.S3_KEYS}")
        return env

    def database_server_and_names(self) -> tuple[str, list[str]]:
        env = self.settings_env()
        urls = [env["CLIPFEED_DATABASE_URL"], *filter(None, env["CLIPFEED_DATABASE_SHARD_URLS"].split(","))]
        server = urls[0].rsplit("/", 1)[0]
        return server, [url.rsplit("/", 1)[1] for url in urls]

    def programs(self, engine_programs: list[Program], *, drain_grace_s: float, worker_grace_s: float) -> list[Program]:
        python = [sys.executable, "-m", "clipfeed.cli"]
        api_stop = int(drain_grace_s) + 5
        worker_stop = int(worker_grace_s) + 10
        out = list(engine_programs)
        for i in range(self.counts.api):
            out.append(Program(f"api-{i}", "api", [*python, "serve", "--host", self.host, "--port",
                                                     str(self.api_port(i)), "--no-migrate"],
                               env={"CLIPFEED_NODE_ID": str(NODE_BASE["api"] + i)}, stop_wait_s=api_stop,
                               start_s=3, port=self.api_port(i)))
        # Transcoding and lake jobs are batch work sharing the machine with requests: they run
        # at a lower CPU priority (nice 10), so a burst of uploads slows them, not the API.
        background = ["nice", "-n", "10"]
        for role in ("media", "stream"):
            for i in range(getattr(self.counts, role)):
                command = [*(background if role == "media" else []), *python, "worker", role]
                out.append(Program(f"{role}-{i}", role, command,
                                   env={"CLIPFEED_NODE_ID": str(NODE_BASE[role] + i)}, stop_wait_s=worker_stop))
        for role in ("batch", "lifecycle", "federation"):
            command = [*(background if role == "batch" else []), *python, "worker", role]
            out.append(Program(role, role, command, env={"CLIPFEED_NODE_ID": str(NODE_BASE[role])},
                               stop_wait_s=worker_stop))
        out.append(Program("balancer", "balancer", [*python, "cluster", "balance", "--dir", str(self.folder)],
                           stop_wait_s=15, port=self.ports["balancer"]))
        out.append(Program("edge", "edge", [*python, "edge", "--origin", f"{self.host}:{self.ports['balancer']}",
                                             "--listen", f"{self.host}:{self.ports['edge']}",
                                             "--dir", str(self.folder / "edge"),
                                             "--agent-port", str(self.ports["edge-agent"]), "--cache-max", "2g"],
                           stop_wait_s=15, port=self.ports["edge"]))
        return out

    # --- persistence -------------------------------------------------------------------------

    def save(self) -> None:
        path = self.folder / "cluster.json"
        data = asdict(self)
        data["folder"] = str(self.folder)
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        path.chmod(0o600)  # it holds the signing key and the purge secret

    @classmethod
    def load(cls, folder: Path) -> Plan:
        path = folder / "cluster.json"
        if not path.exists():
            raise FileNotFoundError(f"no cluster in {folder} (run `clipfeed cluster up --dir {folder}`)")
        data = json.loads(path.read_text(encoding="utf-8"))
        data["folder"] = Path(data["folder"])
        data["counts"] = Counts(**data["counts"])
        return cls(**data)


def make(folder: Path, name: str, counts: Counts, engines_mode: str) -> tuple[Plan, list[Program]]:
    """A new plan, or the saved one with new process counts; plus the engine programs it runs."""
    if not NAME.match(name):
        raise ValueError("--name: a lower-case letter then up to 29 letters, digits or '-'")
    if engines_mode not in ("auto", "local", "throwaway"):
        raise ValueError("--engines: auto | local | throwaway")
    counts.validate()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        plan = Plan.load(folder)
        plan.counts = counts
    except FileNotFoundError:
        plan = Plan(folder=folder, name=name, counts=counts, engines_mode=engines_mode)
        plan.secrets = {"signing_key": f"k1:{secrets.token_urlsafe(32)}", "purge_secret": secrets.token_urlsafe(32)}
    for key in ("balancer", "edge", "edge-agent", *(f"api-{i}" for i in range(counts.api))):
        plan.ports.setdefault(key, engine_lib.free_port())
    programs = []
    plan.started, plan.given = [], []
    for kind in engine_lib.KINDS:
        if kind in plan.urls and kind not in plan.ports:
            engine = engine_lib.Engine(kind, plan.urls[kind])   # found on the machine last time
        else:
            engine = engine_lib.resolve(kind, plan.engines_mode, folder, plan.ports)
        plan.urls[kind] = engine.url
        if engine.program is not None:
            programs.append(engine.program)
            plan.started.append(kind)
        if engine.given:
            plan.given.append(kind)
    if counts.redis > 1:
        if "redis" not in plan.started:
            raise ValueError("--redis 2 or more needs the cluster's own Redis servers (--engines throwaway, or no "
                             "Redis answering on 6379); with your own, name them all in CLIPFEED_CACHE_URL")
        servers = [plan.urls["redis"].split(",")[0]]
        for i in range(1, counts.redis):
            node = f"redis-{i}"
            port = plan.ports.setdefault(node, engine_lib.free_port())
            engine = engine_lib.redis_server(folder / "engines" / node, port, node)
            assert engine.program is not None
            programs.append(engine.program)
            servers.append(engine.url)
        plan.urls["redis"] = ",".join(servers)
    if counts.replicas:
        if "postgres" not in plan.started:
            raise ValueError("--replicas needs the cluster's own PostgreSQL (--engines throwaway, or no PostgreSQL "
                             "answering on 5432); with your own server, set CLIPFEED_DATABASE_REPLICA_URLS")
        for replica in plan.replica_names:
            port = plan.ports.setdefault(replica, engine_lib.free_port())
            programs.append(engine_lib.postgres_replica(folder / "engines" / replica, port))
    return plan, programs
