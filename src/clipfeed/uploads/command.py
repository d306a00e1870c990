"""``clipfeed upload``: send a file with tuspy, with a rich progress bar, resuming where it stopped."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from clipfeed.uploads import client
from clipfeed.uploads.client import ClientError, Credentials

RETRIES = 8  # network errors, 423 and 5xx: back off and resume from the server's offset


def _detail(content: bytes | None) -> str:
    import json

    try:
        body = json.loads(content or b"{}")
        return str(body.get("detail") or body.get("title"))
    except ValueError:
        return (content or b"").decode(errors="replace")[:200]


def _refusal(what: str, exc: Any) -> str:
    """One line: what failed, the HTTP status and the server's reason (problem ``detail``)."""
    if exc.status_code is None:  # no answer at all: tuspy wraps the network error
        return f"{what}: cannot reach the server ({exc})"
    return f"{what} ({exc.status_code}): {_detail(exc.response_content)}"


class _Upload:
    def __init__(self, path: Path, credentials: Credentials, metadata: dict[str, str], chunk_size: int) -> None:
        from tusclient.storage.filestorage import FileStorage

        self.path = path
        self.credentials = credentials
        self.metadata = metadata
        self.chunk_size = chunk_size
        client.data_dir().mkdir(parents=True, exist_ok=True)
        self.storage = FileStorage(str(client.data_dir() / "uploads.json"))
        self.fingerprint = client.Fingerprint(credentials.server, path)
        with open(path, "rb") as stream:
            self.key = self.fingerprint.get_fingerprint(stream)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.access_token}"}

    def uploader(self) -> Any:
        from tusclient import client as tus
        from tusclient.exceptions import TusCommunicationError

        self.tus = tus.TusClient(f"{self.credentials.server}/v1/uploads/", headers=self._headers())
        for _ in range(2):
            try:
                return self.tus.uploader(file_path=str(self.path), chunk_size=self.chunk_size, metadata=self.metadata,
                                         store_url=True, url_storage=self.storage, fingerprinter=self.fingerprint,
                                         upload_checksum=True)
            except TusCommunicationError as exc:
                if exc.status_code == 401 and self._refresh():
                    continue
                # The stored URL is unknown to the server (expired, deleted, rejected): start over.
                self.storage.remove_item(self.key)
        raise ClientError("the server refused to resume or create this upload")

    def _refresh(self) -> bool:
        renewed = client.refresh(self.credentials)
        if renewed is None:
            return False
        self.credentials = renewed
        self.tus.headers.update(self._headers())
        return True

    def _create(self, uploader: Any) -> str:
        """The upload's URL from a creation request; a refusal says the server's own reason."""
        from tusclient.exceptions import TusCommunicationError

        for _ in range(2):
            try:
                return str(uploader.create_url())
            except TusCommunicationError as exc:
                if exc.status_code == 401 and self._refresh():
                    continue
                raise ClientError(_refusal("the server refused the upload", exc)) from exc
        raise ClientError("the server refused the upload: the sign-in is no longer valid; run `clipfeed login`")

    def send(self, uploader: Any, on_progress: Any) -> str:
        from tusclient.exceptions import TusCommunicationError, TusUploadFailed

        failures = 0
        if uploader.url is None:
            uploader.set_url(self._create(uploader))
        on_progress(uploader.offset)
        while uploader.offset < uploader.stop_at:
            try:
                uploader.upload_chunk()
                failures = 0
            except (TusUploadFailed, TusCommunicationError) as exc:
                status = exc.status_code
                if status == 401 and self._refresh():
                    continue
                if status == 422 or status == 410:
                    self.storage.remove_item(self.key)
                    raise ClientError(f"the server did not accept the file: {_detail(exc.response_content)}") from exc
                if status is not None and 400 <= status < 500 and status not in (409, 423, 429):
                    raise ClientError(_refusal("upload failed", exc)) from exc
                failures += 1
                if failures > RETRIES:
                    raise ClientError(_refusal(f"upload failed after {RETRIES} retries", exc)) from exc
                time.sleep(min(30.0, 0.5 * 2 ** failures))
                try:
                    uploader.offset = uploader.get_offset()
                except TusCommunicationError:
                    continue
            on_progress(uploader.offset)
        self.storage.remove_item(self.key)
        return str(uploader.url)


def run(path: Path, *, credentials: Credentials, metadata: dict[str, str], chunk_size: int, compress: bool,
        wait: bool, console: Console) -> dict[str, Any]:
    """Upload ``path`` (re-encoded first with ``compress``); returns the upload's JSON state."""
    if not path.is_file():
        raise ClientError(f"no file {path}")
    if path.stat().st_size == 0:
        raise ClientError(f"{path} is empty")
    source = path
    if compress:
        with console.status("checking whether the file needs re-encoding"):
            source = client.mezzanine(path)
        if source != path:
            console.print(f"re-encoded to a 1080p H.264/AAC mezzanine: {source.stat().st_size:,} bytes")
    job = _Upload(source, credentials, metadata, chunk_size)
    uploader = job.uploader()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(path.name, total=uploader.stop_at)
        url = job.send(uploader, lambda offset: bar.update(task, completed=offset))
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {job.credentials.access_token}"}, timeout=30)
    except httpx.HTTPError as exc:
        raise ClientError(f"the upload finished but the server did not answer about it ({exc})") from exc
    if response.status_code != 200:
        raise ClientError(f"the upload finished but its state cannot be read: {response.status_code}")
    state: dict[str, Any] = response.json()
    if source != path:
        source.unlink(missing_ok=True)
    console.print(f"[green]uploaded[/]: clip {state.get('clip_id')} (sha256 {state.get('sha256')})")
    if wait and state.get("clip_id"):
        _follow(job.credentials, str(state["clip_id"]), console)
    return state


# What the creator reads when the wait ends on each status, and whether it ends in success.
OUTCOMES = {
    "ready": ("ready: it plays for everyone it is shared with", True),
    "review": ("held for review: a moderator will look at it before anyone else can watch it; "
               "it turns ready or rejected then (see `GET /v1/clips/{id}/status`)", True),
    "rejected": ("rejected", False),
    "failed": ("processing failed", False),
    "deleted": ("deleted while processing", False),
}


def _follow(credentials: Credentials, clip_id: str, console: Console) -> None:
    status: dict[str, Any] = {}
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      TextColumn("{task.percentage:>3.0f}%"), console=console) as bar:
            task = bar.add_task("processing", total=100)
            for status in client.follow_status(credentials.server, credentials.access_token, clip_id):
                bar.update(task, completed=float(status.get("percent") or 0), description=_stage(status))
                if status.get("status") in OUTCOMES:
                    break
    except httpx.HTTPError as exc:
        raise ClientError(f"lost the server while waiting for clip {clip_id} ({type(exc).__name__}); the "
                          "upload itself is done: check later with `GET /v1/clips/{id}/status`"
                          .replace("{id}", clip_id)) from exc
    final = str(status.get("status"))
    if final not in OUTCOMES:
        raise ClientError(f"the server ended the status stream of clip {clip_id} before processing "
                          f"finished (last status: {final}); the upload itself is done")
    message, success = OUTCOMES[final]
    reason = f" ({status['reason']})" if status.get("reason") else ""
    console.print(f"clip {clip_id}: [bold]{message.replace('{id}', clip_id)}[/]{reason}")
    if not success:
        raise ClientError(f"processing ended as {final}{reason}")
    console.print(f"open it: {app_url(credentials.server, clip_id)}")


def app_url(server: str, clip_id: str) -> str:
    """Where the web app opens on the clip (the share page's "Open in Clipfeed" link does too)."""
    return f"{server.rstrip('/')}/?clip={clip_id}"


def _stage(status: dict[str, Any]) -> str:
    if status.get("stage") == "queued" and status.get("queue_position") is not None:
        ahead = int(status["queue_position"])
        return f"queued: {ahead} clip{'s' if ahead != 1 else ''} ahead" if ahead else "queued: next in line"
    return f"{status.get('status')}: {status.get('stage')}"


@contextlib.contextmanager
def one_line_failures(debug: bool, console: Console) -> Iterator[None]:
    """A client command's failure is one line on stderr and exit status 1; the traceback only
    with ``--debug`` (a user needs the server's reason, not our call stack)."""
    try:
        yield
    except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, ClientError | OSError):
            line = str(exc)
        elif isinstance(exc, httpx.HTTPError):
            line = f"lost the connection to the server ({type(exc).__name__}: {exc})"
        else:
            line = f"unexpected error ({type(exc).__name__}: {exc}); run again with --debug for details"
        # The server's words are not markup: "[x]" in a detail must print as it is.
        console.print(f"[red]error[/]: {escape(line)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
