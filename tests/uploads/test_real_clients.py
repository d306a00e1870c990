"""Real clients against a real server process: tuspy (and our CLI on it), tus-js-client under
Node, and a server killed with SIGKILL in the middle of an upload."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from clipfeed.infra.blobs import open_blob_store
from tests.uploads.served import Served
from tests.uploads.tus import SAMPLE

MiB = 1024 * 1024
JS = Path(__file__).resolve().parents[1] / "js"
# Only our own loop runs in the served processes: the media pipeline is not under test here.
QUIET = {"CLIPFEED_INPROCESS_WORKERS": "lifecycle"}


def _master(blob_url: str, key: str) -> bytes:
    async def read() -> bytes:
        store = open_blob_store(blob_url)
        try:
            return await store.get(key)
        finally:
            await store.close()

    return asyncio.run(read())


def _engines(stack: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[dict[str, str], str]:
    """Environment for a served process on ``stack``, and its blob URL."""
    if stack == "embedded":
        return dict(QUIET), f"file://{tmp_path / 'var' / 'blobs'}"
    from tests.conftest import stack_settings

    settings = stack_settings("real", tmp_path, request)
    env = {"CLIPFEED_DATABASE_URL": settings.database_url, "CLIPFEED_BLOB_URL": settings.blob_url,
           "CLIPFEED_CACHE_URL": settings.cache_url, "CLIPFEED_LOG_URL": settings.log_url, **QUIET}
    return env, settings.blob_url


@pytest.mark.slow
@pytest.mark.parametrize("engines", ["embedded", "real"])
def test_upload_resumes_after_server_is_killed(engines: str, tmp_path: Path, request: pytest.FixtureRequest,
                                               big_clip: Path) -> None:
    from tusclient import client as tus
    from tusclient.storage.filestorage import FileStorage

    env, blob_url = _engines(engines, tmp_path, request)
    served = Served(tmp_path / "var", env).start()
    try:
        auth = {"Authorization": f"Bearer {served.register('kim')}"}
        storage = FileStorage(str(tmp_path / "urls.json"))

        def uploader():
            return tus.TusClient(f"{served.url}/v1/uploads/", headers=auth).uploader(
                file_path=str(big_clip), chunk_size=4 * MiB, metadata={"filename": "noise.mp4", "caption": "kill"},
                store_url=True, url_storage=storage)

        first = uploader()
        acknowledged: list[int] = []
        failures: list[Exception] = []

        def pump() -> None:
            try:
                while first.offset < first.stop_at:
                    first.upload_chunk()
                    acknowledged.append(first.offset)
            except Exception as exc:  # the connection dies with the server
                failures.append(exc)

        sender = threading.Thread(target=pump)
        sender.start()
        deadline = time.monotonic() + 60
        while (not acknowledged or acknowledged[-1] < first.stop_at // 3) and time.monotonic() < deadline:
            time.sleep(0.005)
        served.kill()
        sender.join(60)
        assert failures, "the upload should have been cut off by the kill"
        assert acknowledged and acknowledged[-1] < first.stop_at

        served.start()
        second = uploader()  # the stored URL, and the server's offset for it
        assert second.url == first.url
        assert acknowledged[-1] <= second.offset <= first.stop_at  # no acknowledged byte lost
        second.upload()
        clip_id = second.request.response_headers["clipfeed-clip-id"]
        master = _master(blob_url, f"clips/{clip_id}/raw/master.mp4")
        assert hashlib.sha256(master).hexdigest() == hashlib.sha256(big_clip.read_bytes()).hexdigest()
        clip = httpx.get(f"{served.url}/v1/clips/{clip_id}", headers=auth, timeout=10).json()
        assert clip["status"] == "processing" and clip["caption"] == "kill"
    finally:
        served.stop()


@pytest.mark.slow
def test_tus_js_client_uploads_in_chunks_and_in_parallel(tmp_path: Path, big_clip: Path) -> None:
    served = Served(tmp_path / "var", QUIET).start()
    try:
        token = served.register("nodefan")
        digests = set()
        for parallel in ("1", "3"):
            run = subprocess.run(["node", str(JS / "tus_upload.mjs"), f"{served.url}/v1/uploads/", token,
                                  str(big_clip), str(5 * MiB), parallel, f"from node x{parallel}"],
                                 capture_output=True, text=True, timeout=180, cwd=JS)
            assert run.returncode == 0, run.stderr
            outcome = json.loads(run.stdout)
            assert outcome["clipId"] and outcome["progressEvents"] > 1
            clip = httpx.get(f"{served.url}/v1/clips/{outcome['clipId']}",
                             headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
            assert clip["status"] == "processing" and clip["caption"] == f"from node x{parallel}"
            assert clip["hashtags"] == ["node", "tus"]
            master = tmp_path / "var" / "blobs" / "clips" / outcome["clipId"] / "raw" / "master.mp4"
            digests.add(hashlib.sha256(master.read_bytes()).hexdigest())
        assert digests == {hashlib.sha256(big_clip.read_bytes()).hexdigest()}
        bad = subprocess.run(["node", str(JS / "tus_upload.mjs"), f"{served.url}/v1/uploads/", token,
                              str(SAMPLE.parent / "bad" / "audio-only.mp4"), str(5 * MiB), "1"],
                             capture_output=True, text=True, timeout=120, cwd=JS)
        assert bad.returncode == 1
        failure = json.loads(bad.stderr.strip().splitlines()[-1])
        assert failure["status"] == 422 and "no video stream" in failure["body"]
    finally:
        served.stop()


def _client_env(served: Served, home: Path) -> dict[str, str]:
    return {**served.env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"), "COLUMNS": "100"}


@pytest.mark.slow
def test_cli_uploads_resumes_compresses_and_waits(tmp_path: Path, big_clip: Path) -> None:
    served = Served(tmp_path / "var", QUIET).start()
    home = tmp_path / "home"
    env = _client_env(served, home)
    try:
        served.register("kim")
        login = served.cli("login", "--login", "kim", "--password", "correct horse battery", env=env)
        assert login.returncode == 0, login.stderr
        assert oct((home / "config" / "clipfeed" / "credentials.json").stat().st_mode & 0o777) == "0o600"
        done = served.cli("upload", str(SAMPLE), "--caption", "Bunny #cli", "--tag", "weekend", "--visibility",
                          "unlisted", env=env)
        assert done.returncode == 0, done.stderr
        assert "uploaded" in done.stderr

        # Interrupted (the CLI is killed), then the same command resumes the same upload.
        clipfeed = str(Path(sys.executable).parent / "clipfeed")
        args = [clipfeed, "upload", str(big_clip), "--caption", "resumed", "--chunk-size", str(256 * 1024)]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        urls = home / "data" / "clipfeed" / "uploads.json"
        deadline = time.monotonic() + 60
        stored: list[str] = []
        while time.monotonic() < deadline and not stored:
            if urls.exists():
                stored = [row["url"] for row in json.loads(urls.read_text() or "{}").get("_default", {}).values()
                          if row.get("url")]
            time.sleep(0.05)
        assert stored, "the CLI never stored the upload URL"
        token = json.loads((home / "config" / "clipfeed" / "credentials.json").read_text())["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        while httpx.get(stored[0], headers=auth, timeout=10).json()["offset"] == 0:
            time.sleep(0.02)
        proc.kill()
        proc.wait(10)
        before = httpx.get(stored[0], headers=auth, timeout=10).json()
        resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        after = httpx.get(stored[0], headers=auth, timeout=10).json()
        assert before["state"] == "receiving" and 0 < before["offset"] < before["length"]
        assert after["state"] == "complete" and after["id"] == before["id"]

        # --compress turns a 1440p file into a 1080p mezzanine before sending it.
        tall = tmp_path / "tall.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=2560x1440:rate=25",
                        "-t", "1.5", "-c:v", "libx264", "-preset", "ultrafast", str(tall)], check=True, timeout=120)
        small = served.cli("upload", str(tall), "--compress", "--caption", "tall", env=env)
        assert small.returncode == 0, small.stderr
        clips = httpx.get(f"{served.url}/v1/users/kim/clips", headers=auth, timeout=10).json()["items"]
        tall_clip = next(c for c in clips if c["caption"] == "tall")
        assert (tall_clip["width"], tall_clip["height"]) == (1920, 1080)

        # --wait follows the status stream until the clip is ready.
        waiting = subprocess.Popen([clipfeed, "upload", str(SAMPLE), "--caption", "wait for me", "--wait"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        clip_id = None
        deadline = time.monotonic() + 60
        while clip_id is None and time.monotonic() < deadline:
            items = httpx.get(f"{served.url}/v1/users/kim/clips", headers=auth, timeout=10).json()["items"]
            clip_id = next((c["id"] for c in items if c["caption"] == "wait for me"), None)
            time.sleep(0.2)
        assert clip_id is not None
        time.sleep(1.0)  # let the CLI open its stream
        _mark_ready(served, int(clip_id))
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err
        assert "ready" in err
        assert f"{served.url}/?clip={clip_id}" in " ".join(err.split()), err  # where the app opens on it
    finally:
        served.stop()


def _mark_ready(served: Served, clip_id: int) -> None:
    """What the media worker would do at the end, from another process sharing the engines."""
    import clipfeed.schema  # noqa: F401 - every table, for the foreign keys
    from clipfeed.bootstrap import running
    from clipfeed.clips import service as clips_service
    from clipfeed.clips.models import ClipStatus
    from clipfeed.settings import Settings

    async def run() -> None:
        settings = Settings(data_dir=Path(served.env["CLIPFEED_DATA_DIR"]), log_json=False)
        async with running(settings) as services:
            await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip_id,
                                           status=ClipStatus.ready)
            await services.outbox.flush()

    asyncio.run(run())
