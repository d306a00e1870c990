"""Metadata extraction on real and generated clips, and the stored content embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clipfeed.demo.content import package_video
from clipfeed.media import embedding, features, metadata
from clipfeed.media.probe import probe
from clipfeed.settings import Settings
from tests.media import clipgen

pytestmark = pytest.mark.slow
SETTINGS = Settings()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("metadata-clips")


async def _extract(source: Path, workdir: Path, caption: str = "") -> metadata.MediaMetadata:
    return await metadata.extract(source=source, workdir=workdir, probe=await probe(source), caption=caption,
                                  settings=SETTINGS)


async def test_hashtags_and_mentions_come_from_the_caption(clips: Path, tmp_path: Path) -> None:
    caption = "Jam with @Mia_Beats and @leo.k! #Music #live mail me at bob@example.com #music"
    found = await _extract(clipgen.make(clips / "jam.mp4", "testsrc2=s=160x120", seconds=1), tmp_path, caption)
    assert found.mentions == ["mia_beats", "leo.k"] and found.hashtags == ["music", "live"]


def test_caption_language_tells_english_from_french() -> None:
    languages = SETTINGS.metadata_languages
    assert metadata.detect_language("Sunset over the sea with my two cats #travel", languages=languages) == "en"
    assert metadata.detect_language("Coucher de soleil sur la mer avec mes deux chats #voyage",
                                    languages=languages) == "fr"
    assert metadata.detect_language("#cats @mia 🐱", languages=languages) is None  # nothing to go on


async def test_real_clip_gets_technical_metadata_language_and_a_unit_embedding(tmp_path: Path) -> None:
    found = await _extract(package_video("bigbuckbunny.mp4"), tmp_path,
                           "A sleepy rabbit wakes up in the forest #animation with @blender")
    assert found.technical["width"] == 1280 and found.technical["height"] == 720
    assert found.technical["has_audio"] and found.technical["video_codec"] == "h264"
    assert found.language == "en" and found.hashtags == ["animation"] and found.mentions == ["blender"]
    assert found.embedding.shape == (embedding.DIM,) and found.embedding.dtype == np.float32
    assert float(np.linalg.norm(found.embedding)) == pytest.approx(1.0, abs=1e-5)
    assert found.loudness is not None and -40 < found.loudness < -10
    greens = [c for c in found.colours if int(c["hex"][3:5], 16) > int(c["hex"][5:7], 16)]
    assert greens and sum(c["share"] for c in found.colours) > 0.9  # a green meadow, mostly


async def test_scene_cuts_are_counted_on_a_clip_with_known_cuts(clips: Path, tmp_path: Path) -> None:
    scenes = ["testsrc2", "smptehdbars", "mandelbrot", "rgbtestsrc", "color=c=orange"]
    clip = clipgen.sequence(clips / "five-scenes.mp4", scenes, seconds=1.6)
    assert (await _extract(clip, tmp_path)).scene_cuts == 4
    still = clipgen.make(clips / "one-scene.mp4", "testsrc2=s=320x240", seconds=4)
    assert (await _extract(still, tmp_path)).scene_cuts == 0


async def test_dominant_colour_of_a_solid_red_clip_is_red(clips: Path, tmp_path: Path) -> None:
    red = clipgen.make(clips / "red.mp4", "color=c=red:s=320x240", seconds=2)
    colours = (await _extract(red, tmp_path)).colours
    assert len(colours) == 1 and colours[0]["share"] == 1.0
    r, g, b = (int(colours[0]["hex"][i:i + 2], 16) for i in (1, 3, 5))
    assert r > 230 and g < 30 and b < 30


async def test_loudness_of_a_tone_at_a_known_level(clips: Path, tmp_path: Path) -> None:
    # A 1 kHz mono sine with peak amplitude 1/16 (-24.1 dBFS): its mean square is 3 dB below
    # the peak, and K-weighting is flat at 1 kHz, so BS.1770 gives -24.1 - 3.0 = -27.1 LUFS.
    tone = clipgen.make(clips / "tone.mp4", "color=c=gray:s=160x120", seconds=6,
                        audio="sine=frequency=1000:sample_rate=48000,volume=0.5,aformat=channel_layouts=mono")
    assert (await _extract(tone, tmp_path)).loudness == pytest.approx(-27.1, abs=0.5)
    silent_picture = clipgen.make(clips / "no-audio.mp4", "testsrc2=s=160x120", seconds=2)
    assert (await _extract(silent_picture, tmp_path)).loudness is None


async def test_embedding_is_deterministic_and_similar_captions_are_closer(clips: Path, tmp_path: Path) -> None:
    clip = clipgen.make(clips / "pattern.mp4", "testsrc2=s=320x240", seconds=2)
    cat = await _extract(clip, tmp_path, "My cat playing the piano #cats")
    again = await _extract(clip, tmp_path, "My cat playing the piano #cats")
    kitten = await _extract(clip, tmp_path, "A kitten plays piano music")
    stocks = await _extract(clip, tmp_path, "Stock markets fell sharply on interest rate fears")
    np.testing.assert_allclose(cat.embedding, again.embedding, atol=1e-6)
    assert float(cat.embedding @ kitten.embedding) > float(cat.embedding @ stocks.embedding) + 0.1
    # The visual block alone tells a different picture apart.
    other = await _extract(package_video("bikes.mp4"), tmp_path, "My cat playing the piano #cats")
    assert float(cat.embedding @ other.embedding) < float(cat.embedding @ again.embedding) - 0.05


async def test_embeddings_are_stored_and_read_back_by_clip(tmp_path: Path, *, services) -> None:
    found = await _extract(package_video("carphone_pristine.mp4"), tmp_path, "Calling home from the car")
    await features.save_metadata(db=services.db, clip_id=101, metadata=found)
    await features.save_metadata(db=services.db, clip_id=101, metadata=found)  # a redelivered job: same row
    stored = await features.get_embeddings(db=services.db, clip_ids=[101, 202])
    assert list(stored) == [101]
    np.testing.assert_array_equal(stored[101], found.embedding)
    row = await features.get(db=services.db, clip_id=101)
    assert row is not None and row.language == "en" and row.embedding_model == embedding.EMBEDDING_MODEL
