"""One real server (``clipfeed serve`` with its stream worker in process, as on one machine) for
every web journey, with ready clips published through the quick ladder; the web app is the one
built into the package (``make test`` builds it; built here if missing)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.services import free_port, shared_media, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DIST = ROOT / "src" / "clipfeed" / "webapp" / "dist"
JS = ROOT / "tests" / "js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CREATOR = {"handle": "maker", "email": "maker@example.com", "password": "correct horse battery"}
CLIPS = 7
# Captions of the seeded clips, in order: hashtags for search, hashtag pages and Discover, and a
# word the discovery journeys mute (tests/web/test_discover_journeys.py).
CAPTIONS = ["a clip #kickflip at the park", "a clip #sunset over the bay", "a clip with a spoiler of the finale",
            "a clip #kickflip in slow motion", "a clip #cooking pasta", "a clip #sunset timelapse", "a clip"]


@dataclass
class WebStack:
    url: str
    clip_ids: list[str]
    creator: dict[str, str]
    data_dir: Path | None = None  # the server's data folder: journeys seed more there, worker processes share it


def built_app() -> Path:
    """The built app; built now when a checkout has none (needs Node and web/node_modules)."""
    if not (DIST / "index.html").is_file():
        if not (WEB / "node_modules").is_dir():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=600)
        subprocess.run(["npm", "run", "build"], cwd=WEB, check=True, timeout=600,
                       env={**os.environ, "CLIPFEED_PYTHON": sys.executable})
    return DIST


def js_modules() -> None:
    if not (JS / "node_modules" / "axe-core").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300)


async def _seed(data_dir: Path, url: str, count: int = CLIPS) -> list[str]:
    from clipfeed.accounts import service as accounts
    from clipfeed.bootstrap import bootstrap
    from clipfeed.settings import Settings
    from tests.delivery import ladder

    services = await bootstrap(Settings(data_dir=data_dir, log_json=False, inprocess_workers="none",
                                        public_url=url))
    try:
        creator = await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                             settings=services.settings, **CREATOR)
        clip_ids = [str((await ladder.publish(owner_id=creator.id, caption=CAPTIONS[n % len(CAPTIONS)],
                                              services=services)).id)
                    for n in range(count)]
        await services.outbox.flush()  # the clips' events go out now, not after a claim lapses
        return clip_ids
    finally:
        await services.close()


@contextmanager
def serve_stack(root: Path, clips: int = CLIPS) -> Iterator[WebStack]:
    """``clipfeed serve`` on a fresh data folder under ``root`` with ``clips`` ready clips of
    the creator, served by the feed before this yields."""
    built_app()
    js_modules()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(root / "data"), "CLIPFEED_PORT": str(port),
           "CLIPFEED_INPROCESS_WORKERS": "stream", "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_PUBLIC_URL": url}
    log = open(root / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, server, timeout=90)
        clip_ids = asyncio.run(_seed(root / "data", url, clips))
        _wait_for_feed(url, len(clip_ids))
        yield WebStack(url=url, clip_ids=clip_ids, creator=CREATOR, data_dir=root / "data")
    finally:
        stop_process(server, grace=15)
        log.close()


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=300)


def fake_camera(folder: Path) -> list[str]:
    """Chromium's flags for a fake camera showing a portrait picture (a .y4m cut from a shared
    clip into ``folder``), with autoplay allowed."""
    picture = folder / "camera.y4m"
    ffmpeg("-i", str(shared_media() / "bigbuckbunny.mp4"), "-t", "4", "-vf", "crop=ih*9/16:ih,scale=360:640,fps=25",
           "-pix_fmt", "yuv420p", str(picture))
    return ["--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={picture}"]


@contextmanager
def media_worker(stack: WebStack) -> Iterator[None]:
    """``clipfeed worker media`` on the stack's data directory (its server runs only the stream
    role), for journeys whose posted clips must go through the whole pipeline."""
    assert stack.data_dir is not None
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(stack.data_dir), "CLIPFEED_PUBLIC_URL": stack.url,
           "CLIPFEED_LOG_LEVEL": "WARNING"}
    log = open(stack.data_dir.parent / "media-worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "worker", "media"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        stop_process(worker, grace=15)
        log.close()


@pytest.fixture(scope="session")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    """The server the watching journeys share: they assert on its seven seeded clips, so journeys
    that add clips (create) run on a stack of their own."""
    with serve_stack(tmp_path_factory.mktemp("web")) as stack:
        yield stack


def _wait_for_feed(url: str, count: int) -> None:
    """The stream worker indexes new clips within its lag; the journeys need them all served.

    Each try asks as a new viewer: the feed never serves a viewer the same clip twice, so a
    viewer that saw the first few indexed clips would never get a page of all of them."""
    deadline = time.monotonic() + 180  # a loaded machine: the seeding's events may wait out a lapsed claim
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        page = httpx.get(f"{url}/v1/feed", params={"limit": count}, headers={"X-Device-ID": f"seedcheck{tries:04d}"},
                         timeout=10).json()
        if len(page.get("items", [])) >= count:
            return
        time.sleep(0.5)
    raise TimeoutError("the feed did not serve the seeded clips")


def run_journeys(script: str, setup: dict[str, object], folder: str, *, timeout: int = 600) -> dict[str, dict]:
    """Runs one journey file of ``tests/js/`` (one Chromium for all its journeys, see
    ``harness.mjs``) with ``setup``; its screenshots and report land in
    ``tests/web/artifacts/<folder>/`` (git-ignored, emptied first, other files' folders kept)."""
    artifacts = ARTIFACTS / folder
    if artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir(parents=True)
    run = subprocess.run(["node", str(JS / script), json.dumps({"journeys": [], **setup, "artifacts": str(artifacts)})],
                         capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stderr[-4000:]
    (artifacts / "journeys.json").write_text(run.stdout)
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def seen(journeys: dict[str, dict], name: str) -> dict:
    """One journey's report, asserting what every journey must hold: it ran to the end, the page
    threw no uncaught error, and axe found nothing serious or critical."""
    result = journeys[name]
    assert result["ok"], result.get("error")
    assert not result.get("errors"), result["errors"]
    assert not result.get("violations"), result["violations"]
    return result
