"""The single-decode ladder: one FFmpeg process decodes the source once, applies the edits,
and feeds a ``split`` into every rendition's encoder; the HLS muxer cuts CMAF (fMP4) segments
at the shared keyframes. Long clips are encoded as chunks (``chunks.py``) and joined here.

Rungs are scaled from a rendition twice their size when there is one, else from the full-size
frames (see ``ladder_graph``); black/frozen detection runs on the smallest rung's frames. When
the source already is the top rung (``passthrough.py``), that rung is its video stream copied
(``Plan.copy_top``) and only the lower rungs are encoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from clipfeed.media import ladder, regroup
from clipfeed.media.edits import EditList
from clipfeed.media.ffmpeg import ProgressCallback, Report, run
from clipfeed.media.ladder import Rendition
from clipfeed.media.probe import Probe

LOOKAHEAD_FRAMES = 10
# Shipped in the package (not a system path) so the web editor's preview, served the same file
# by GET /v1/fonts/overlay.ttf, lays text out with the very glyphs the render uses.
FONT = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"


@dataclass(frozen=True)
class Plan:
    """Everything an encode needs to know, decided once per job."""

    source: Path
    edits: EditList
    start: float            # seconds into the source where the clip starts (trim)
    length: float           # seconds of source used
    duration: float         # seconds of output (after speed)
    upright: tuple[int, int]  # the picture as displayed (autorotated), before crop
    size: tuple[int, int]   # the picture after crop and rotation (what the ladder scales)
    fps: Fraction
    rungs: tuple[Rendition, ...]
    source_audio: bool      # the source has a sound track we keep
    background: Path | None  # local copy of the background track, if any
    gain_db: float = 0.0    # loudness normalisation gain (from the probing pass)
    copy_top: bool = False  # the top rung (rungs[0], H.264) is the source's video stream, copied
    # Where the file's clock starts (its earliest stream: an AAC track's priming may start before
    # the picture). FFmpeg moves every input to start at 0 by default, which would shift a copied
    # video stream by this much; ``-itsoffset`` cancels that, so the copy keeps the video's times.
    # (``-copyts`` would do the same but makes FFmpeg's progress report wrong times.)
    source_start: float = 0.0

    @property
    def has_audio(self) -> bool:
        return self.source_audio or self.background is not None

    @property
    def encoded(self) -> tuple[Rendition, ...]:
        """The rungs FFmpeg encodes: all of them, or all but a copied top rung."""
        return self.rungs[1:] if self.copy_top else self.rungs

    @property
    def output_folders(self) -> list[str]:
        """FFmpeg's folder for each rung; a copied rung's segments are regrouped from its own."""
        names = [r.name for r in self.rungs]
        if self.copy_top:
            names[0] = regroup.parts_folder(names[0])
        return names


def make_plan(probe: Probe, source: Path, edits: EditList, *, extra_codecs: tuple[str, ...] = (),
              background: Path | None = None) -> Plan:
    video = probe.main_video
    assert video is not None
    upright = video.display_size
    width, height = upright
    if edits.crop:
        width = _even(upright[0] * edits.crop.width)
        height = _even(upright[1] * edits.crop.height)
    if edits.rotate in (90, 270):
        width, height = height, width
    start, length = edits.source_window(probe.duration)
    replaced = edits.audio is not None and edits.audio.mode == "replace"
    return Plan(source=source, edits=edits, start=start, length=length, duration=edits.output_duration(probe.duration),
                upright=upright, size=(width, height), fps=ladder.output_fps(video.fps, video.avg_fps),
                rungs=tuple(ladder.renditions(width, height, extra_codecs=extra_codecs)),
                source_audio=bool(probe.audio) and not edits.mute and not replaced,
                background=background)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


# --- filter graph ------------------------------------------------------------------------

def _atempo(speed: float) -> list[str]:
    steps = []
    while speed > 2.0:
        steps.append("atempo=2")
        speed /= 2.0
    while speed < 0.5:
        steps.append("atempo=0.5")
        speed /= 0.5
    if abs(speed - 1.0) > 1e-6:
        steps.append(f"atempo={speed:.6f}")
    return steps


def video_chain(plan: Plan, workdir: Path, *, offset: float = 0.0, out: str = "src") -> str:
    """From the decoded input to upright, edited, constant-rate frames labelled ``out``.
    ``offset``: where this part starts on the clip's timeline (chunks), for overlay times."""
    edits = plan.edits
    steps = ["setpts=PTS-STARTPTS"]
    if edits.crop:
        w, h = plan.upright
        cw, ch = _even(w * edits.crop.width), _even(h * edits.crop.height)
        steps.append(f"crop={cw}:{ch}:{int(w * edits.crop.x)}:{int(h * edits.crop.y)}")
    steps += {0: [], 90: ["transpose=clock"], 180: ["hflip", "vflip"], 270: ["transpose=cclock"]}[edits.rotate]
    if edits.speed != 1.0:
        steps.append(f"setpts=PTS/{edits.speed:.6f}")
    steps.append(f"fps={plan.fps.numerator}/{plan.fps.denominator}")
    for number, text in enumerate(edits.texts):
        # The text goes through a file: no escaping of what creators type.
        text_file = workdir / f"overlay-{number}.txt"
        text_file.write_text(text.text, encoding="utf-8")
        end = text.end if text.end is not None else 1e9
        font = f"fontfile={FONT}"
        box = ":box=1:boxcolor=black@0.45:boxborderw=12" if text.box else ":borderw=2:bordercolor=black@0.6"
        steps.append(
            f"drawtext={font}:textfile={text_file}:expansion=none:fontcolor=0x{text.color[1:]}:fontsize=h*{text.size:.4f}"
            f":x=(w-text_w)*{text.x:.4f}:y=(h-text_h)*{text.y:.4f}{box}"
            f":enable='between(t+{offset:.3f},{text.start:.3f},{end:.3f})'")
    steps.append("format=yuv420p")
    return f"[0:v]{','.join(steps)}[{out}]"


def audio_chain(plan: Plan, *, measure: bool = False, out: str = "aout") -> str:
    """The sound track: the clip's own audio (tempo-changed), the background track mixed in or
    replacing it, padded or cut to the video's length; then either measured (the probing
    pass) or normalised to the loudness target."""
    edits = plan.edits
    parts = []
    if plan.source_audio:
        own = ["asetpts=PTS-STARTPTS", *_atempo(edits.speed)]
        if edits.audio and edits.audio.mode == "mix":
            own.append(f"volume={edits.audio.original_volume:.3f}")
        parts.append(f"[0:a]{','.join(own)}[own]")
    if plan.background is not None and edits.audio:
        parts.append(f"[1:a]asetpts=PTS-STARTPTS,volume={edits.audio.volume:.3f}[bg]")
    if plan.source_audio and plan.background is not None:
        parts.append("[own][bg]amix=inputs=2:duration=first:normalize=0[mixed]")
        last = "mixed"
    else:
        last = "own" if plan.source_audio else "bg"
    tail = [f"aresample={ladder.AUDIO.sample_rate}", "aformat=channel_layouts=stereo",
            f"apad=whole_dur={plan.duration:.3f}", f"atrim=0:{plan.duration:.3f}"]
    if measure:
        tail += ["silencedetect=n=-50dB:d=1", "ebur128=peak=sample"]
    else:
        ceiling = 10 ** (ladder.PEAK_CEILING_DBFS / 20)
        tail += [f"volume={plan.gain_db:.2f}dB", f"alimiter=limit={ceiling:.4f}:level=false",
                 f"aresample={ladder.AUDIO.sample_rate}"]
    parts.append(f"[{last}]{','.join(tail)}[{out}]")
    return ";".join(parts)


def ladder_graph(plan: Plan, *, source: str = "src", detect: bool = True) -> tuple[str, list[str]]:
    """Scalers from ``source`` into one labelled output per encoded rendition (in
    ``plan.encoded`` order); returns the graph and the output labels. A rung is scaled from a
    smaller rung when one is at least twice its size (720 -> 360, 480 -> 240: a clean 2:1 step,
    cheaper than from 1080), else from the full-size frames: chained 1.5:1 steps cost up to
    0.5 dB (bench/RESULTS.md)."""
    rungs = plan.encoded
    sizes = sorted({(r.width, r.height) for r in rungs}, key=lambda s: -s[0] * s[1])
    labels = {r.name: f"r{i}" for i, r in enumerate(rungs)}
    node = {size: (source if size == plan.size else f"s{i}") for i, size in enumerate(sizes)}
    parent: dict[tuple[int, int], str] = {}
    for i, (w, h) in enumerate(sizes):
        if node[(w, h)] == source:
            continue
        halves = [big for big in sizes[:i] if big[0] >= 2 * w and big[1] >= 2 * h and node[big] != source]
        parent[(w, h)] = node[halves[-1]] if halves else source
    taps: dict[str, list[str]] = {name: [] for name in {source, *node.values()}}
    for rung in rungs:
        taps[node[(rung.width, rung.height)]].append(labels[rung.name])
    parts: list[str] = []
    for size in sizes:
        if size in parent:
            feed = f"to_{node[size]}"
            taps[parent[size]].append(feed)
            parts.append(f"[{feed}]scale={size[0]}:{size[1]}:flags=bicubic,setsar=1[{node[size]}]")
    if detect:
        taps[node[sizes[-1]]].append("detect")
        parts.append("[detect]blackdetect=d=1:pix_th=0.10,freezedetect=n=-60dB:d=2,nullsink")
    for name, outs in taps.items():
        if len(outs) == 1:
            parts.insert(0, f"[{name}]null[{outs[0]}]")
        elif outs:
            parts.insert(0, f"[{name}]split={len(outs)}{''.join(f'[{t}]' for t in outs)}")
    return ";".join(parts), [labels[r.name] for r in rungs]


def encoder_args(plan: Plan, *, first_chunk: bool = True) -> list[str]:
    """Per video output stream, in ``plan.rungs`` order: ``copy`` for a copied top rung, else
    its encoder with the ladder's keyframes forced."""
    gop = ladder.gop_frames(plan.fps)
    keyframes = ladder.KEYFRAMES_FIRST_CHUNK if first_chunk else ladder.KEYFRAMES_LATER_CHUNK
    args: list[str] = ["-c:v:0", "copy"] if plan.copy_top else []
    for i, rung in enumerate(plan.rungs):
        if plan.copy_top and i == 0:
            continue
        p = rung.profile
        rate = p.maxrate(plan.fps)
        spec = f"v:{i}"
        args += [f"-c:{spec}", p.encoder, f"-preset:{spec}", p.preset, f"-crf:{spec}", str(p.crf)]
        if p.encoder == "libx264":
            # The muxer interleaves the renditions, so the encoder that looks furthest ahead
            # sets how soon the first segment is out: 10 frames on every rung (veryfast's own).
            args += [f"-rc-lookahead:{spec}", str(LOOKAHEAD_FRAMES)]
            args += [f"-profile:{spec}", p.profile or "high", f"-maxrate:{spec}", f"{rate}k",
                     f"-bufsize:{spec}", f"{rate * 2}k", f"-g:{spec}", str(gop), f"-keyint_min:{spec}", str(gop),
                     f"-sc_threshold:{spec}", "0", f"-flags:{spec}", "+cgop"]
        elif p.encoder == "libx265":
            args += [f"-x265-params:{spec}", f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:"
                     f"vbv-maxrate={rate}:vbv-bufsize={rate * 2}:log-level=error",
                     f"-forced-idr:{spec}", "1", f"-tag:{spec}", "hvc1"]
        else:  # libsvtav1: fixed keyframe interval (it takes no forced keyframes in FFmpeg 5.1)
            args += [f"-g:{spec}", str(gop)]
        args += [f"-force_key_frames:{spec}", keyframes]
    return args


def audio_encoder_args() -> list[str]:
    a = ladder.AUDIO
    return ["-c:a", a.encoder, "-b:a", f"{a.bitrate_kbps}k", "-ar", str(a.sample_rate), "-ac", str(a.channels)]


def input_args(plan: Plan, *, start: float = 0.0, length: float | None = None,
               video: bool = True, with_background: bool = True) -> list[str]:
    """The source (seeked to the trim, or to a chunk), and the background track if any.
    ``start``/``length`` are on the clip's timeline; the source is read ``speed`` times as far."""
    speed = plan.edits.speed
    src_start = plan.start + start * speed
    src_length = (length if length is not None else plan.duration - start) * speed
    args = ["-ss", f"{src_start:.3f}", "-t", f"{src_length + 0.01:.3f}", "-i", str(plan.source)]
    if plan.copy_top and plan.source_start:
        args = ["-itsoffset", f"{plan.source_start:.6f}", *args]
    if with_background and plan.background is not None and plan.edits.audio:
        offset = plan.edits.audio.offset + (start if video else 0.0)
        args += ["-stream_loop", "-1", "-ss", f"{offset:.3f}", "-i", str(plan.background)]
    return args


def hls_args(outdir: Path, names: list[str], *, has_audio: bool) -> list[str]:
    stream_map = [f"v:{i},name:{name}" for i, name in enumerate(names)]
    if has_audio:
        stream_map.append("a:0,name:audio")
    return ["-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", str(ladder.GOP_S),
            # "event": FFmpeg rewrites the playlists after every segment ("vod" only at the end),
            # which is how the publisher sees finished segments; our own playlists replace them.
            "-hls_init_time", str(ladder.FIRST_SEGMENT_S), "-hls_playlist_type", "event",
            "-hls_flags", "independent_segments+temp_file", "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", str(outdir / "%v" / "seg_%05d.m4s"),
            "-var_stream_map", " ".join(stream_map), str(outdir / "%v" / "index.m3u8")]


async def measure_audio(plan: Plan, workdir: Path) -> Report:
    """The probing pass over the sound track: loudness (EBU R128) and silent spans."""
    if not plan.has_audio:
        return Report()
    return await run([*input_args(plan, video=False), "-filter_complex", audio_chain(plan, measure=True, out="m"),
                      "-map", "[m]", "-f", "null", "-"], duration=plan.duration, timeout=600)


def loudness_gain(measured: float | None) -> float:
    if measured is None or measured < -60:  # silence: nothing to normalise
        return 0.0
    gain = ladder.LOUDNESS_TARGET_LUFS - measured
    return max(-ladder.MAX_GAIN_DB, min(ladder.MAX_GAIN_DB, gain))


async def encode(plan: Plan, outdir: Path, workdir: Path, *, on_progress: ProgressCallback | None = None) -> Report:
    """The whole ladder in one FFmpeg run: ``outdir/<rendition>/index.m3u8`` + segments, and
    ``outdir/audio/`` when the clip has sound. The report carries the decode's health."""
    graph, labels = ladder_graph(plan)
    parts = [video_chain(plan, workdir), graph]
    maps = ["-map", "0:v:0"] if plan.copy_top else []
    maps += [arg for label in labels for arg in ("-map", f"[{label}]")]
    if plan.has_audio:
        parts.append(audio_chain(plan))
        maps += ["-map", "[aout]"]
    for folder in plan.output_folders + (["audio"] if plan.has_audio else []):
        (outdir / folder).mkdir(parents=True, exist_ok=True)
    args = [*input_args(plan), "-filter_complex", ";".join(parts), *maps, *encoder_args(plan),
            *(audio_encoder_args() if plan.has_audio else []),
            *hls_args(outdir, plan.output_folders, has_audio=plan.has_audio)]
    return await run(args, on_progress=on_progress, duration=plan.duration,
                     timeout=max(600.0, plan.duration * 30))


def chunk_bounds(duration: float, chunk_s: float) -> list[tuple[float, float]]:
    """(start, length) of each chunk: cut on keyframe times (1, 3, 5, ... s), about
    ``chunk_s`` long, the last one taking the rest."""
    step = max(ladder.GOP_S, int(chunk_s) // ladder.GOP_S * ladder.GOP_S)
    bounds, start = [], 0.0
    first_end = ladder.FIRST_SEGMENT_S + step - ladder.GOP_S
    end = float(first_end)
    while end < duration - ladder.GOP_S:
        bounds.append((start, end - start))
        start, end = end, end + step
    bounds.append((start, max(0.0, duration - start)))
    return bounds

