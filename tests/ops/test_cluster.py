"""``clipfeed cluster``: a whole deployment on one machine, driven the way docs/operate/cluster.md
tells an operator to: up, upload through the balancer, kill a process, status, down."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from clipfeed.cluster import engines
from clipfeed.cluster.balancer import upstream
from clipfeed.cluster.plan import Counts, Plan, make
from tests.uploads.tus import SAMPLE

CLIPFEED = str(Path(sys.executable).parent / "clipfeed")
PASSWORD = "correct horse battery"


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    """Not under pytest's temporary folder: as root the cluster runs PostgreSQL as ``nobody``,
    who must pass through every parent folder, and pytest keeps its own at mode 0700."""
    folder = Path(tempfile.mkdtemp(prefix="clipfeed-cluster-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _env(home: Path) -> dict[str, str]:
    # The operator's shell: none of the suite's engine settings, a home of its own for the CLI.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIPFEED_")}
    return {**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
            "COLUMNS": "120"}


def _cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLIPFEED, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _status(folder: Path, env: dict[str, str]) -> dict:
    run = _cli("cluster", "status", "--dir", str(folder), "--json", env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.slow
def test_cluster_serves_an_upload_survives_a_killed_api_process_and_stops_cleanly(
        tmp_path: Path, cluster_dir: Path) -> None:
    folder, env = cluster_dir, _env(tmp_path / "home")
    name = f"t{uuid.uuid4().hex[:8]}"
    up = _cli("cluster", "up", "--dir", str(folder), "--engines", "throwaway", "--name", name, "--api", "2",
              "--media", "1", "--stream", "1", "--shards", "1", "--timeout", "240", env=env)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        url = up.stdout.strip().splitlines()[-1]
        report = _status(folder, env)
        programs = {p["name"]: p for p in report["programs"]}
        assert set(programs) == {"postgres", "redis", "nats", "s3", "api-0", "api-1", "media-0", "stream-0", "batch",
                                 "lifecycle", "federation", "balancer", "edge"}
        assert all(p["state"] == "RUNNING" and p["pid"] for p in programs.values())
        assert programs["api-0"]["ready"] and programs["api-1"]["ready"] and programs["balancer"]["ready"]
        assert all("started by the cluster" in where for where in report["engines"].values())

        # A creator signs up and posts a clip through the balancer with the CLI; a media
        # worker transcodes it; viewers get it from the edge.
        signup = httpx.post(f"{url}/v1/auth/register", timeout=30, json={
            "handle": "kim", "email": "kim@example.com", "password": PASSWORD})
        assert signup.status_code == 201, signup.text
        login = _cli("login", "--login", "kim", "--password", PASSWORD, "--server", url, env=env)
        assert login.returncode == 0, login.stderr
        posted = _cli("upload", str(SAMPLE), "--caption", "through the cluster", "--wait", env=env)
        assert posted.returncode == 0, posted.stderr
        clip_id = posted.stderr.split("uploaded: clip ", 1)[1].split()[0]
        clip = httpx.get(f"{url}/v1/clips/{clip_id}", timeout=10).json()
        assert clip["status"] == "ready"
        assert clip["media"]["hls"].startswith(report["edge"])
        playlist = httpx.get(clip["media"]["hls"], timeout=10)
        assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")

        # One API process dies (SIGKILL): readers through the balancer never notice, and
        # supervisord starts a new one, which the balancer takes back once it is ready.
        killed = programs["api-0"]["pid"]
        os.kill(killed, signal.SIGKILL)
        answers = [httpx.get(f"{url}/v1/clips/{clip_id}", timeout=10).status_code for _ in range(40)]
        assert answers == [200] * 40
        deadline = time.monotonic() + 90
        while True:
            api0 = next(p for p in _status(folder, env)["programs"] if p["name"] == "api-0")
            if api0["state"] == "RUNNING" and api0["pid"] != killed and api0["ready"]:
                break
            assert time.monotonic() < deadline, f"api-0 did not come back: {api0}"
            time.sleep(0.5)
        ready = json.loads((folder / "balancer" / "ready.json").read_text())
        deadline = time.monotonic() + 30
        while len(ready["ready"]) < 2:  # the balancer's next check lists it again
            assert time.monotonic() < deadline, ready
            time.sleep(0.3)
            ready = json.loads((folder / "balancer" / "ready.json").read_text())

        # The drills an operator runs: a stream worker killed mid-batch and the event log's
        # server restarted, each under a steady load through the balancer. Nothing acknowledged
        # is lost or applied twice, the counters match the rows, service is back within 30 s.
        drills = _cli("cluster", "drill", "kill-stream", "restart-nats", "--dir", str(folder), "--json",
                      "--before", "3", "--after", "2", env=env, timeout=600)
        reports = json.loads(drills.stdout)
        for report in reports:
            assert (report["lost"], report["duplicated"], report["counters_right"]) == (0, 0, True), report
            assert report["acknowledged_writes"] > 10 and report["recovery_s"] is not None, report
            assert report["recovery_s"] <= 30, report
        assert drills.returncode == 0, drills.stderr[-2000:]
        pids = [p["pid"] for p in _status(folder, env)["programs"]]
    finally:
        down = _cli("cluster", "down", "--dir", str(folder), env=env, timeout=240)
    assert down.returncode == 0, down.stderr
    alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left running after down: {alive}"
    assert _cli("cluster", "status", "--dir", str(folder), env=env).returncode == 3
    with pytest.raises(httpx.ConnectError):  # nothing listens where the cluster served
        httpx.get(f"{url}/readyz", timeout=5)


def test_the_balancer_lists_only_ready_processes_or_all_when_none_is() -> None:
    backends = ["127.0.0.1:1", "127.0.0.1:2"]
    assert upstream(backends, {"127.0.0.1:2"}).splitlines() == [
        "server 127.0.0.1:1 max_fails=1 fail_timeout=5s down;", "server 127.0.0.1:2 max_fails=1 fail_timeout=5s;"]
    assert "down" not in upstream(backends, set())


def test_engines_come_from_the_settings_then_the_machine_then_are_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_server_url: str) -> None:
    monkeypatch.setenv("CLIPFEED_DATABASE_URL", "postgresql://app@db.example:5432/clips")
    given = engines.resolve("postgres", "auto", tmp_path, {})
    assert (given.url, given.given, given.started_here) == ("postgresql://app@db.example:5432/clips", True, False)
    monkeypatch.delenv("CLIPFEED_DATABASE_URL")
    machine = engines.resolve("postgres", "auto", tmp_path, {})
    assert not machine.started_here and engines.reachable(machine.url, 5432)
    started = engines.resolve("redis", "throwaway", tmp_path, {})
    assert started.started_here and started.program is not None and started.program.port
    monkeypatch.setenv("CLIPFEED_BLOB_URL", "file:///srv/blobs")  # not S3: the cluster needs its own store
    with pytest.raises(LookupError, match="s3"):
        engines.resolve("s3", "local", tmp_path, {})


def test_a_second_up_keeps_the_ports_secrets_and_engines_of_the_first(cluster_dir: Path) -> None:
    first, _ = make(cluster_dir, "same", Counts(api=2), "throwaway")
    first.save()
    again, programs = make(cluster_dir, "same", Counts(api=3), "throwaway")
    assert again.secrets == first.secrets and again.urls == first.urls
    assert all(again.ports[key] == port for key, port in first.ports.items())
    assert again.counts.api == 3 and "api-2" in again.ports
    assert {p.name for p in programs} == {"postgres", "redis", "nats", "s3"}
    loaded = Plan.load(cluster_dir)
    assert loaded.settings_env()["CLIPFEED_DATABASE_SHARD_URLS"].count(",") == 1  # two shard databases
    with pytest.raises(ValueError, match="--name"):
        make(cluster_dir / "other", "Bad Name", Counts(), "auto")


def test_redis_n_starts_a_ring_of_throwaway_servers_and_names_them_all_in_the_cache_url(
    cluster_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan, programs = make(cluster_dir, "ring", Counts(redis=3), "throwaway")
    assert {p.name for p in programs} >= {"redis", "redis-1", "redis-2"}
    servers = plan.urls["redis"].split(",")
    assert len(set(servers)) == 3
    assert plan.settings_env()["CLIPFEED_CACHE_URL"] == ",".join(f"{s}/0?prefix=ring:" for s in servers)
    plan.save()
    assert Plan.load(cluster_dir).counts.redis == 3
    monkeypatch.setenv("CLIPFEED_CACHE_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError, match="--redis"):  # a Redis of the operator's: the cluster starts none
        make(cluster_dir / "given", "given", Counts(redis=2), "auto")


def test_replicas_serve_the_main_database_and_every_shard_database(
    cluster_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from clipfeed.settings import Settings

    plan, programs = make(cluster_dir, "reps", Counts(shards=2, replicas=2), "throwaway")
    assert {p.name for p in programs} >= {"postgres", "postgres-replica-0", "postgres-replica-1"}
    env = plan.settings_env()
    servers = [f"postgresql://postgres@{plan.host}:{plan.ports[name]}" for name in plan.replica_names]
    main, *shards = plan.database_names
    assert env["CLIPFEED_DATABASE_REPLICA_URLS"].split(",") == [f"{server}/{main}" for server in servers]
    # each replica streams the whole server: one list per shard database, naming that database
    assert json.loads(env["CLIPFEED_DATABASE_SHARD_REPLICA_URLS"]) == [
        [f"{server}/{shard}" for server in servers] for shard in shards]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert len(Settings().database_shard_replica_urls) == 2  # what every program of the cluster reads


def test_media_0_runs_no_media_worker_and_the_drills_say_they_need_one(cluster_dir: Path) -> None:
    from clipfeed.cluster.drill import check_allowed

    plan, engine_programs = make(cluster_dir, "elsewhere", Counts(media=0), "throwaway")
    names = {p.name for p in plan.programs(engine_programs, drain_grace_s=5, worker_grace_s=5)}
    assert "stream-0" in names and not any(name.startswith("media-") for name in names)
    with pytest.raises(ValueError, match="needs a media worker"):
        check_allowed(plan, "kill-api")
    with pytest.raises(ValueError, match="--media 0-32"):
        Counts(media=-1).validate()
