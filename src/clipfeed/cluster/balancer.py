"""nginx in front of the cluster's API processes, and the readiness checks nginx lacks.

Open-source nginx only ejects a backend passively (after failed connections: ``max_fails``),
so a process that answers but is not ready (draining on SIGTERM, shedding load, its database
unreachable) would still get requests. ``clipfeed cluster balance`` runs nginx as its child and
asks every API process's ``/readyz`` each second; when the set of ready processes changes it
rewrites ``upstream.conf`` (the others marked ``down``) and reloads nginx (SIGHUP: new workers
take the new list, old ones finish their requests). When none is ready every process is
listed, so nginx keeps trying rather than answering 502 at once.

Crash behaviour: if this process dies, supervisord restarts it; nginx, its child, is stopped
with it (same process group), so the balancer is down for the restart (a second or two).
Requests in flight through the old nginx get a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

import httpx

from clipfeed.cluster.plan import Plan

TEMPLATE = Path(__file__).with_name("balancer.conf")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CHECK_EVERY_S = 1.0
CHECK_TIMEOUT_S = 2.5   # /readyz gives each adapter 2 s


def render(listen: str, prefix: Path) -> str:
    user = ""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
    values = {"listen": listen, "prefix": str(prefix), "user": user}
    lines = []
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("#"):
            for name, value in values.items():
                line = line.replace("{{" + name + "}}", value)
        lines.append(line)
    return "\n".join(lines) + "\n"


def upstream(backends: list[str], ready: set[str]) -> str:
    everyone = not ready  # none ready: list them all, nginx keeps trying
    return "".join(f"server {backend} max_fails=1 fail_timeout=5s{'' if everyone or backend in ready else ' down'};\n"
                   for backend in backends)


def prepare(plan: Plan) -> tuple[Path, Path]:
    prefix = plan.folder / "balancer"
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "balancer.conf"
    conf.write_text(render(f"{plan.host}:{plan.ports['balancer']}", prefix), encoding="utf-8")
    backends = [f"{plan.host}:{plan.api_port(i)}" for i in range(plan.counts.api)]
    (prefix / "upstream.conf").write_text(upstream(backends, set(backends)), encoding="utf-8")
    if os.geteuid() == 0:  # the workers (nobody) write the temp files
        nobody = pwd.getpwnam("nobody")
        for path in [prefix / "tmp", *(prefix / "tmp").rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    check = subprocess.run([NGINX, "-t", "-q", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(f"nginx refused the balancer config: {check.stderr.strip()}")
    return prefix, conf


async def _ready(client: httpx.AsyncClient, backend: str) -> bool:
    try:
        answer = await client.get(f"http://{backend}/readyz", timeout=CHECK_TIMEOUT_S)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


async def run(plan: Plan) -> int:
    """Run nginx and the readiness loop until SIGTERM/SIGINT (exit 0) or nginx dies (exit 1)."""
    prefix, conf = prepare(plan)
    backends = [f"{plan.host}:{plan.api_port(i)}" for i in range(plan.counts.api)]
    nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    listed = set(backends)
    state = prefix / "ready.json"
    try:
        async with httpx.AsyncClient() as client:
            while not stop.is_set():
                if nginx.poll() is not None:
                    return 1
                answers = await asyncio.gather(*(_ready(client, backend) for backend in backends))
                ready = {backend for backend, ok in zip(backends, answers, strict=True) if ok}
                state.write_text(json.dumps({"ready": sorted(ready), "backends": backends}), encoding="utf-8")
                wanted = ready or set(backends)
                if wanted != listed:
                    (prefix / "upstream.conf").write_text(upstream(backends, ready), encoding="utf-8")
                    nginx.send_signal(signal.SIGHUP)
                    listed = wanted
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), CHECK_EVERY_S)
        return 0
    finally:
        if nginx.poll() is None:
            nginx.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
