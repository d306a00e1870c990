"""A scratch ``clipfeed serve`` for one simulated run, and the creators' side of the world.

The server runs as a subprocess on an embedded data folder (SQLite, local files, in-process
cache, embedded log) with its stream worker in process, as ``clipfeed serve`` runs on one
machine. Clips are published as the media pipeline leaves them: a draft through the clips
service, then marked ready (no media files: simulated viewers never fetch a segment), from this
process on the same data folder; their events reach the server's stream worker through the log,
as any worker's would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

# Simulated viewers all come from one address and register at once: the server's per-address
# limits are raised for the scratch server only.
SERVER_ENV = {"CLIPFEED_REGISTER_RATE_PER_HOUR": "100000", "CLIPFEED_LOG_LEVEL": "WARNING",
              "CLIPFEED_INPROCESS_WORKERS": "stream"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ScratchServer:
    """``clipfeed serve`` on ``folder/data``; its output goes to ``folder/server.log``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def start(self, timeout: float = 90.0) -> None:
        env = {**os.environ, **SERVER_ENV, "CLIPFEED_DATA_DIR": str(self.data_dir), "CLIPFEED_PORT": str(self.port),
               "CLIPFEED_PUBLIC_URL": self.url}
        with open(self.folder / "server.log", "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve"], env=env, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"clipfeed serve exited with {code}; see {self.folder}/server.log")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("clipfeed serve did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Publisher:
    """Creates creators and publishes their clips on the server's data folder."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.creator_ids: list[int] = []
        self.creator_handles: list[str] = []

    @classmethod
    async def open(cls, server: ScratchServer) -> Publisher:
        from clipfeed.bootstrap import bootstrap
        from clipfeed.settings import Settings

        return cls(await bootstrap(Settings(data_dir=server.data_dir, log_json=False, inprocess_workers="none",
                                            public_url=server.url)))

    async def add_creator(self) -> None:
        from clipfeed.accounts import service as accounts

        n = len(self.creator_ids)
        services = self.services
        user = await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                          settings=services.settings, handle=f"creator{n}",
                                          email=f"creator{n}@example.com", password="simulated creator pw")
        self.creator_ids.append(user.id)
        self.creator_handles.append(user.handle)

    async def publish(self, *, creator: int, caption: str, duration_ms: int) -> int:
        from clipfeed.clips import service as clips
        from clipfeed.clips.models import ClipCreate, ClipStatus

        services = self.services
        draft = await clips.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                         owner_id=self.creator_ids[creator], request=ClipCreate(caption=caption))
        technical: dict[str, Any] = {"width": 720, "height": 1280, "duration_ms": duration_ms}
        clip = await clips.set_status(db=services.db, outbox=services.outbox, clip_id=draft.id,
                                      status=ClipStatus.ready, media={}, technical=technical)
        return int(clip.id)

    async def flush(self) -> None:
        await self.services.outbox.flush()  # the clips' events go out now, not after a claim lapses

    async def close(self) -> None:
        await self.services.close()
