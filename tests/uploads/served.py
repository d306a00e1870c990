"""``clipfeed serve`` as a real process on a free port, which tests may kill -9 and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.services import free_port

BIN = Path(sys.executable).parent


class Served:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CLIPFEED_DATA_DIR": str(data_dir), "CLIPFEED_LOG_JSON": "false",
                    "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_PUBLIC_URL": self.url, **(env or {})}
        self.log = data_dir / "serve.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "clipfeed"), *args], env=env or self.env, capture_output=True, text=True,
                              timeout=timeout)

    def start(self) -> Served:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(BIN / "clipfeed"), "serve", "--port", str(self.port), "--migrate"],
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server never answered: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """kill -9: no shutdown handlers, no flushes, exactly like a crash."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def register(self, handle: str) -> str:
        response = httpx.post(f"{self.url}/v1/auth/register", json={
            "handle": handle, "email": f"{handle}@example.com", "password": "correct horse battery"}, timeout=30)
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])
