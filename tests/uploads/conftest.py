"""Fixtures of the upload tests: a larger generated clip, a real HTTP server in this process."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def big_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s 960x540 H.264/AAC clip of ~25 MiB (noise does not compress): several 5 MiB parts."""
    path = tmp_path_factory.mktemp("media") / "noise.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=960x540:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "3",
                    "-vf", "noise=alls=30:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16",
                    "-c:a", "aac", "-shortest", str(path)], check=True, timeout=120)
    return path


@pytest.fixture
async def live_url(*, services) -> AsyncIterator[str]:
    """The app served by uvicorn on a free loopback port (streaming responses need a real server)."""
    import uvicorn

    from clipfeed.api import create_app
    from tests.services import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services=services), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
