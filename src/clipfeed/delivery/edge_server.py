"""Run an nginx edge cache from ``src/clipfeed/delivery/edge.conf``: render the template into a working
folder and start nginx and the purge agent beside it (``clipfeed edge``; tests and the
benchmark use ``running_edge``).

nginx runs as the calling user with every path inside the working folder. Started as root,
the master keeps root and the workers run as ``nobody``, so the folder is handed to that user.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clipfeed.delivery.signing import SigningKey

TEMPLATE = Path(__file__).with_name("edge.conf")  # package data: in the wheel too
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class EdgeSpec:
    origin: str                    # host:port of the origin
    listen: str                    # host:port to serve on
    folder: Path                   # working folder: config, logs, pid, cache, temp files
    keys: list[SigningKey]
    purge_secret: str
    agent_port: int
    cache_max: str = "2g"
    workers: int = 1
    template: Path = field(default=TEMPLATE)

    @property
    def cache_dir(self) -> Path:
        return self.folder / "cache"

    @property
    def url(self) -> str:
        return f"http://{self.listen}"


def render(spec: EdgeSpec) -> str:
    user = ""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
    values = {
        "origin": spec.origin, "listen": spec.listen, "prefix": str(spec.folder), "cache_dir": str(spec.cache_dir),
        "cache_max": spec.cache_max, "purge_agent": f"127.0.0.1:{spec.agent_port}", "workers": str(spec.workers),
        "keys": "\n".join(f'        {key.kid} "{key.secret}";' for key in spec.keys), "user": user,
    }
    lines = []
    for line in spec.template.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("#"):  # comments name the fields; leave them be
            for name, value in values.items():
                line = line.replace("{{" + name + "}}", value)
        lines.append(line)
    return "\n".join(lines) + "\n"


def prepare(spec: EdgeSpec) -> Path:
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "cache"):
        (spec.folder / sub).mkdir(parents=True, exist_ok=True)
    conf = spec.folder / "edge.conf"
    conf.write_text(render(spec), encoding="utf-8")
    conf.chmod(0o600)  # it holds the signing secrets
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for path in [spec.folder, *spec.folder.rglob("*")]:
            if path.is_dir():
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chmod(spec.folder, 0o755)
        # The workers must be able to pass through every folder above (temporary folders are
        # often 0700): grant search (x) only, never listing.
        for parent in spec.folder.parents:
            mode = parent.stat().st_mode
            if mode & 0o001 == 0:
                parent.chmod(mode | 0o111)
    return conf


def _wait(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"{what} is not listening on {port}")


@contextlib.contextmanager
def running_edge(spec: EdgeSpec) -> Iterator[EdgeSpec]:
    """nginx and its purge agent, stopped (and their processes reaped) on exit."""
    conf = prepare(spec)
    check = subprocess.run([NGINX, "-t", "-q", "-p", str(spec.folder), "-c", str(conf)],
                           capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(f"nginx refused the edge config: {check.stderr.strip()}")
    env = {**os.environ, "CLIPFEED_EDGE_PURGE_SECRET": spec.purge_secret}
    agent = subprocess.Popen([sys.executable, "-m", "clipfeed.delivery.purge_agent", "--cache-dir",
                              str(spec.cache_dir), "--port", str(spec.agent_port)], env=env)
    nginx = subprocess.Popen([NGINX, "-p", str(spec.folder), "-c", str(conf), "-g", "daemon off;"])
    try:
        _wait(int(spec.listen.rsplit(":", 1)[1]), nginx, "nginx")
        _wait(spec.agent_port, agent, "purge agent")
        yield spec
    finally:
        for proc, stop in ((nginx, signal.SIGQUIT), (agent, signal.SIGTERM)):
            if proc.poll() is None:
                proc.send_signal(stop)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
