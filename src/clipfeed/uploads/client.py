"""The client side of uploads, for ``clipfeed login`` and ``clipfeed upload`` (tuspy + rich).

Resuming: tuspy stores each upload's URL under a fingerprint of (server, file size, modification
time, first 64 KiB) in ``uploads.json`` in the user's data folder; running the same command
again after a crash, a dropped network or Ctrl+C asks the server for the offset and goes on from
there. A stored URL the server no longer knows (expired, deleted) is forgotten and the upload
starts afresh. ``--compress`` writes its mezzanine to the user's cache folder under a name
derived from the source, so a resumed upload sends the very same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import platformdirs

APP = "clipfeed"
COMPRESS_ABOVE_BYTES = 200 * 1024 * 1024
MEZZANINE_HEIGHT = 1080


class ClientError(Exception):
    """Something the user must fix or know about; printed without a traceback."""


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP))


@dataclass
class Credentials:
    server: str
    access_token: str
    refresh_token: str | None = None


def _credentials_path() -> Path:
    return config_dir() / "credentials.json"


def load_credentials() -> Credentials | None:
    try:
        raw = json.loads(_credentials_path().read_text(encoding="utf-8"))
        return Credentials(server=raw["server"], access_token=raw["access_token"],
                           refresh_token=raw.get("refresh_token"))
    except (FileNotFoundError, KeyError, ValueError):
        return None


def save_credentials(credentials: Credentials) -> Path:
    path = _credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # tokens: owner only
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(credentials.__dict__, out)
    os.replace(temp, path)
    return path


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("detail") or body.get("title") or response.text)
    except ValueError:
        return response.text[:200] or f"HTTP {response.status_code}"


def login(server: str, login_name: str, password: str) -> Credentials:
    response = httpx.post(f"{server.rstrip('/')}/v1/auth/login", json={"login": login_name, "password": password},
                          timeout=30)
    if response.status_code != 200:
        raise ClientError(f"sign-in failed: {_problem(response)}")
    body = response.json()
    return Credentials(server=server.rstrip("/"), access_token=body["access_token"],
                       refresh_token=body["refresh_token"])


def refresh(credentials: Credentials) -> Credentials | None:
    """New tokens from the refresh token (saved), or None when that is not possible."""
    if not credentials.refresh_token:
        return None
    response = httpx.post(f"{credentials.server}/v1/auth/refresh",
                          json={"refresh_token": credentials.refresh_token}, timeout=30)
    if response.status_code != 200:
        return None
    body = response.json()
    renewed = Credentials(server=credentials.server, access_token=body["access_token"],
                          refresh_token=body["refresh_token"])
    save_credentials(renewed)
    return renewed


class Fingerprint:
    """tuspy fingerprinter that also names the server and the file's size and modification time."""

    def __init__(self, server: str, path: Path) -> None:
        self.server = server
        self.path = path

    def get_fingerprint(self, stream: IO[bytes]) -> str:
        stream.seek(0)
        head = stream.read(64 * 1024)
        st = self.path.stat()
        seed = f"{self.server}|{st.st_size}|{st.st_mtime_ns}|".encode() + head
        return "clipfeed-" + hashlib.sha256(seed).hexdigest()


def probe_height(path: Path) -> int:
    from clipfeed.media.probe import parse

    result = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
                             str(path)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ClientError(f"ffprobe cannot read {path.name}: {result.stderr.strip()[-200:]}")
    video = parse(json.loads(result.stdout)).main_video
    if video is None:
        raise ClientError(f"{path.name} has no video stream")
    return min(video.display_size)


def mezzanine(path: Path, *, threshold: int = COMPRESS_ABOVE_BYTES, on_progress: Any = None) -> Path:
    """``path`` itself if small enough and at most 1080p, else an H.264/AAC 1080p MP4 of it."""
    if path.stat().st_size <= threshold and probe_height(path) <= MEZZANINE_HEIGHT:
        return path
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20]
    target = cache_dir() / "mezzanine" / f"{key}.mp4"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.mp4")
    # Short side to 1080 at most (portrait or landscape), never upscaled; even dimensions.
    scale = ("scale='if(gt(iw,ih),-2,min(1080,iw))':'if(gt(iw,ih),min(1080,ih),-2)'")
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(path), "-vf", scale, "-c:v", "libx264", "-preset",
               "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
               "-movflags", "+faststart", str(partial)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise ClientError(f"re-encoding failed: {result.stderr.strip()[-300:]}")
    os.replace(partial, target)
    return target


def follow_status(server: str, token: str, clip_id: str, *, timeout: float = 3600) -> Any:
    """Yield each status of the clip's server-sent event stream until a terminal one."""
    url = f"{server}/v1/clips/{clip_id}/status/stream"
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {token}"},
                      timeout=httpx.Timeout(timeout, connect=10)) as response:
        if response.status_code != 200:
            response.read()
            raise ClientError(f"cannot follow the status: {_problem(response)}")
        for line in response.iter_lines():
            if line.startswith("data:"):
                yield json.loads(line[5:].strip())
