"""The sound library: a few short loops and tones a creator can lay under a clip.

Every sound is *made* by FFmpeg from a formula (lavfi sources ``aevalsrc`` and ``anoisesrc``):
nothing is downloaded, nothing has an author to credit, and the recipe is the licence. The media
worker writes them to the object store under ``sounds/{LIBRARY_VERSION}/{name}.m4a`` when it
starts (``ensure_library``); the edit list names a sound by that key (``BackgroundAudio.key``).

Crash safety: each sound is encoded into a private temporary directory and stored with one
``put_file``, which the blob store makes atomic (readers see the whole object or none). A worker
killed half-way leaves some sounds stored and the rest absent, never a truncated one; the next
start finds the absent ones (``exists``) and makes only those. Two workers starting together
both make the missing sounds and the last write wins, with identical bytes. A changed recipe
gets a new ``LIBRARY_VERSION``, so clips already rendered with an old sound keep their key.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from clipfeed.media.ffmpeg import run
from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)

LIBRARY_VERSION = "v1"
PREFIX = f"sounds/{LIBRARY_VERSION}/"
# Signed sound URLs are scoped to the whole library (see clipfeed.delivery.signing).
SCOPE = "sounds/"
SAMPLE_RATE = 48000


@dataclass(frozen=True)
class Sound:
    name: str
    title: str
    duration: float
    source: str  # an FFmpeg lavfi source graph (mono or stereo), before encoding

    @property
    def key(self) -> str:
        return f"{PREFIX}{self.name}.m4a"


def _notes(frequencies: list[float], step: float) -> str:
    """An aevalsrc expression playing ``frequencies`` in turn, ``step`` seconds each, each note
    fading out (a plucked feel) so the loop has a beat."""
    count = len(frequencies)
    pitch = "+".join(f"eq(mod(floor(t/{step}),{count}),{index})*{freq}" for index, freq in enumerate(frequencies))
    return f"0.35*sin(2*PI*({pitch})*t)*exp(-3*mod(t,{step}))"


LIBRARY: tuple[Sound, ...] = (
    Sound("calm-tone", "Calm tone", 15.0,
          f"aevalsrc='0.18*(sin(2*PI*220*t)+0.6*sin(2*PI*330*t))*(0.7+0.3*sin(2*PI*0.25*t))'"
          f":s={SAMPLE_RATE}:d=15"),
    Sound("arpeggio", "Arpeggio", 16.0,
          f"aevalsrc='{_notes([261.63, 329.63, 392.0, 523.25, 392.0, 329.63], 0.25)}':s={SAMPLE_RATE}:d=16"),
    Sound("pulse", "Pulse", 12.0,
          f"aevalsrc='0.5*sin(2*PI*(55+40*exp(-20*mod(t,0.5)))*t)*exp(-8*mod(t,0.5))'"
          f":s={SAMPLE_RATE}:d=12"),
    Sound("rain", "Rain", 15.0,
          f"anoisesrc=color=pink:amplitude=0.25:sample_rate={SAMPLE_RATE}:duration=15:seed=7,lowpass=f=2500"),
    Sound("beeps", "Beeps", 10.0,
          f"aevalsrc='0.25*sin(2*PI*880*t)*lt(mod(t,0.5),0.08)':s={SAMPLE_RATE}:d=10"),
)
BY_KEY = {sound.key: sound for sound in LIBRARY}


async def make(sound: Sound, path: Path) -> None:
    """Encode ``sound`` to ``path`` (AAC in MP4, stereo, the ladder's sample rate)."""
    await run(["-f", "lavfi", "-i", sound.source, "-t", f"{sound.duration:.3f}",
               "-ac", "2", "-ar", str(SAMPLE_RATE), "-c:a", "aac", "-b:a", "128k",
               "-movflags", "+faststart", str(path)], timeout=120.0)


async def ensure_library(stop: asyncio.Event | None = None, *, services: Services) -> list[str]:
    """Make and store every library sound the object store lacks; the keys it made.
    Idempotent: a complete library costs one ``exists`` per sound."""
    made = []
    with tempfile.TemporaryDirectory(prefix="clipfeed-sounds-") as workdir:
        for sound in LIBRARY:
            if stop is not None and stop.is_set():
                break
            if await services.blobs.exists(sound.key):
                continue
            started = time.monotonic()
            path = Path(workdir) / f"{sound.name}.m4a"
            await make(sound, path)
            await services.blobs.put_file(sound.key, path, content_type="audio/mp4")
            made.append(sound.key)
            log.info("sounds.made", key=sound.key, seconds=round(time.monotonic() - started, 2))
    return made


async def library_loop(stop: asyncio.Event, *, services: Services) -> None:
    """The media role's start-up job: fill the library once, then return."""
    try:
        await ensure_library(stop, services=services)
    except Exception:  # a missing sound must not stop the media worker: the next start retries
        log.exception("sounds.failed")


async def available(*, services: Services) -> list[Sound]:
    """The library's sounds that are in the object store (all of them once a media worker ran)."""
    present = await asyncio.gather(*(services.blobs.exists(sound.key) for sound in LIBRARY))
    return [sound for sound, there in zip(LIBRARY, present, strict=True) if there]
