"""The sentence model on ONNX Runtime gives the vectors torch gives, exports its graph once per
cache folder, and leaves the work to torch where it cannot run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clipfeed.media import embedding
from clipfeed.media.sentence_onnx import OnnxSentenceModel, graph_path

TEXTS = ["a cat falls off the table", "missed the counter #fail #kitty", "Ça va très bien, merci #café 😀",
         "kalimba", "x", "ok " * 400]  # the last one longer than the model's 256 tokens


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    encoder = embedding.TextEncoder(1)
    encoder._onnx = False  # torch, as before ONNX Runtime
    return encoder.encode_many(TEXTS)


def test_onnx_gives_torchs_vectors_and_exports_once(tmp_path: Path, torch_vectors: np.ndarray) -> None:
    model = OnnxSentenceModel(tmp_path, threads=1)
    written = graph_path(tmp_path).stat().st_mtime_ns
    vectors = model.encode(TEXTS, batch_size=4)  # two batches, each padded to its own longest
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.abs(vectors - torch_vectors).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for n, text in enumerate(TEXTS):  # alone: no padding at all (a query), whatever the export traced
        assert np.abs(model.encode([text])[0] - torch_vectors[n]).max() < 1e-5
    again = OnnxSentenceModel(tmp_path, threads=1)  # another process of the same machine
    assert graph_path(tmp_path).stat().st_mtime_ns == written
    assert sorted(p.name for p in tmp_path.iterdir()) == [graph_path(tmp_path).name]  # no partial file left
    assert np.array_equal(again.encode(TEXTS[:2]), vectors[:2])


def test_a_cache_that_cannot_be_written_leaves_the_work_to_torch(tmp_path: Path, monkeypatch,
                                                                 torch_vectors: np.ndarray) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("CLIPFEED_MODEL_CACHE_DIR", str(blocked / "models"))
    encoder = embedding.TextEncoder(1)
    vectors = encoder.encode_many(["", *TEXTS])
    assert encoder._onnx is False  # tried once, then torch
    assert not vectors[0].any()  # an empty text: a zero vector, as before
    assert np.abs(vectors[1:] - torch_vectors).max() < 1e-6
