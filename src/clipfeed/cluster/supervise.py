"""supervisord runs the cluster: its configuration, its start, and its XML-RPC interface.

We use supervisord rather than a loop of our own because what a cluster needs from a process
manager is exactly what it has done for years: restart a process that dies (with a back-off
and a limit), stop a process group with a signal and a grace then SIGKILL, keep each
program's log with rotation, and answer "what runs, with which pid, since when" over a socket
while the command that started it has long exited.

Crash behaviour: supervisord is the parent of every program. If it is killed outright its
programs lose their parent and keep running (supervisord does not take them down with it);
``cluster down`` then finds no socket and stops them by the pids recorded in ``cluster.json``
(see ``clipfeed.cluster.cli``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

# Order of start (low first) and of stop (high first): engines, the application's own
# processes, then what fronts them.
PRIORITY = {"engines": 10, "replicas": 20, "api": 30, "media": 40, "stream": 40, "batch": 40, "lifecycle": 40,
            "federation": 40, "balancer": 60, "edge": 70}


@dataclass
class Program:
    name: str                        # unique, e.g. api-0
    group: str                       # a PRIORITY key
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None          # run as this user (PostgreSQL refuses to run as root)
    stop_signal: str = "TERM"
    stop_wait_s: int = 15            # after the stop signal, SIGKILL
    start_s: int = 2                 # up this long counts as started
    port: int | None = None          # the port it serves, for status and waiting
    directory: str | None = None

    def section(self, logs: Path) -> str:
        env = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(self.env.items()))
        lines = [
            f"[program:{self.name}]",
            f"command={' '.join(_quote(arg) for arg in self.command)}",
            f"priority={PRIORITY[self.group]}",
            "autostart=false",       # ``cluster up`` starts the groups in order, waiting between
            "autorestart=true",
            f"startsecs={self.start_s}",
            "startretries=20",
            f"stopsignal={self.stop_signal}",
            f"stopwaitsecs={self.stop_wait_s}",
            # The whole process group: a media worker's FFmpeg, nginx's workers.
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={logs / (self.name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=3",
        ]
        if env:
            lines.append(f"environment={env}")
        if self.user:
            lines.append(f"user={self.user}")
        if self.directory:
            lines.append(f"directory={self.directory}")
        return "\n".join(lines)


def _quote(arg: str) -> str:
    # supervisord splits the command with shlex and expands %(...)s: escape both.
    return shlex.quote(arg).replace("%", "%%")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


def render(programs: list[Program], folder: Path) -> str:
    logs = folder / "logs"
    groups: dict[str, list[str]] = {}
    for program in programs:
        groups.setdefault(program.group, []).append(program.name)
    parts = [
        "; Written by `clipfeed cluster up`; rewritten on every start.",
        "[unix_http_server]", f"file={folder / 'supervisor.sock'}", "chmod=0700", "",
        "[supervisord]", f"logfile={logs / 'supervisord.log'}", f"pidfile={folder / 'supervisord.pid'}",
        f"childlogdir={logs}", "logfile_maxbytes=20MB", "loglevel=info", "", "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{folder / 'supervisor.sock'}", "",
    ]
    parts += [program.section(logs) + "\n" for program in programs]
    parts += [f"[group:{name}]\nprograms={','.join(members)}\npriority={PRIORITY[name]}\n"
              for name, members in groups.items()]
    return "\n".join(parts)


def start_supervisord(folder: Path, conf: Path, env: dict[str, str], timeout: float = 20.0) -> None:
    """Start supervisord (it daemonises) and wait for its socket to answer."""
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).with_name("supervisord")
    command = [str(binary)] if binary.exists() else [sys.executable, "-m", "supervisor.supervisord"]
    subprocess.run([*command, "-c", str(conf)], env=env, check=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if rpc(folder).supervisor.getState()["statename"] == "RUNNING":
                return
        except (OSError, xmlrpc.client.Fault):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"supervisord did not answer on {folder / 'supervisor.sock'}; see {folder / 'logs'}")


def rpc(folder: Path) -> Any:
    """supervisord's XML-RPC interface over its unix socket."""
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{folder / 'supervisor.sock'}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def running(folder: Path) -> bool:
    try:
        rpc(folder).supervisor.getState()
    except (OSError, xmlrpc.client.Fault):
        return False
    return True


def processes(folder: Path) -> list[dict[str, Any]]:
    """One dict per program: name, group, statename, pid, start (epoch s), description."""
    return cast(list[dict[str, Any]], rpc(folder).supervisor.getAllProcessInfo())


def start_group(folder: Path, group: str, *, wait: bool = True) -> None:
    """Start a group; with ``wait``, until each of its programs has been up ``startsecs``."""
    rpc(folder).supervisor.startProcessGroup(group, wait)


def shutdown(folder: Path, timeout: float) -> None:
    """Stop every program (in reverse priority, each with its stop signal and grace) and
    supervisord itself; wait until supervisord has exited."""
    pid_file = folder / "supervisord.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    try:
        rpc(folder).supervisor.shutdown()
    except (OSError, xmlrpc.client.Fault):
        return
    deadline = time.monotonic() + timeout
    while pid is not None and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    if pid is not None:
        raise TimeoutError(f"supervisord (pid {pid}) still runs after {timeout:.0f} s")
