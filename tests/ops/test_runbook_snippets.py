"""The Python snippets of docs/operate/runbooks.md marked ``<!-- runnable: NAME -->`` run, as an
operator would run them, against an embedded deployment, and print what the page says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from clipfeed.bootstrap import running
from clipfeed.settings import Settings

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "operate" / "runbooks.md"


def _snippets() -> dict[str, str]:
    text = RUNBOOKS.read_text()
    return dict(re.findall(r"<!-- runnable: (\w+) -->\n```python\n(.*?)\n```", text, re.S))


def _run(code: str, data_dir: Path, *args: str) -> str:
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(data_dir), "CLIPFEED_LOG_JSON": "false",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=data_dir, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


async def test_runbook_snippets_report_backlog_and_dead_letters(tmp_path: Path) -> None:
    snippets = _snippets()
    assert set(snippets) == {"backlog", "dlq"}
    async with running(Settings(data_dir=tmp_path, log_json=False), relay=False) as services:
        for n in range(3):
            await services.log.append("media.uploaded", b"{}", key=str(n).encode())
        await services.log.append("dlq.media", b"{}", key=b"42", headers={
            "error": "RuntimeError: ffmpeg was killed", "source_topic": "media.uploaded",
            "source_partition": "0", "source_offset": "7"})

    backlog = _run(snippets["backlog"], tmp_path)
    assert "media on media.uploaded: 3 behind" in backlog
    assert "stream-clips: no topic activity.clips yet" in backlog

    dead = _run(snippets["dlq"], tmp_path, "media")
    assert "key=b'42' from media.uploaded@0/7: RuntimeError: ffmpeg was killed" in dead
    assert "dlq.stream-users: empty" in _run(snippets["dlq"], tmp_path, "stream-users")
