"""The profile table's renditions, frame-rate choice, chunk cuts and edit-list validation."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pydantic import ValidationError

from clipfeed.media import ladder, transcode
from clipfeed.media.edits import EditList


def sizes(width: int, height: int, **kw) -> list[tuple[str, int, int]]:
    return [(r.name, r.width, r.height) for r in ladder.renditions(width, height, **kw)]


def test_a_1080p_clip_gets_the_five_rung_ladder_and_a_4k_clip_is_not_given_more() -> None:
    expected = [("1080", 1920, 1080), ("720", 1280, 720), ("480", 854, 480), ("360", 640, 360), ("240", 426, 240)]
    assert sizes(1920, 1080) == expected
    assert sizes(3840, 2160) == expected


def test_portrait_clips_get_the_same_rungs_on_their_short_side() -> None:
    assert sizes(1080, 1920)[:2] == [("1080", 1080, 1920), ("720", 720, 1280)]


def test_nothing_is_upscaled_and_a_tiny_clip_keeps_its_own_size() -> None:
    assert [n for n, _, _ in sizes(640, 480)] == ["480", "360", "240"]
    assert sizes(176, 144) == [("144", 176, 144)]


def test_optional_codecs_add_renditions_only_when_asked() -> None:
    names = [n for n, _, _ in sizes(1920, 1080, extra_codecs=("hevc",))]
    assert "1080-hevc" in names and "720-hevc" in names and len(names) == 7


@pytest.mark.parametrize(("fps", "avg", "expected"), [
    (30000 / 1001, 30000 / 1001, Fraction(30000, 1001)), (26.777, 26.777, Fraction(27)),
    (90, 30.2, Fraction(30)), (120, 120, Fraction(60)), (10, 10, Fraction(10))])
def test_output_frame_rate_is_constant_and_standard_when_close(fps: float, avg: float, expected: Fraction) -> None:
    assert ladder.output_fps(fps, avg) == expected


def test_chunks_are_cut_on_keyframe_times_and_cover_the_clip() -> None:
    bounds = transcode.chunk_bounds(180.0, 30)
    assert bounds[0] == (0.0, 29.0)
    assert all((start - 1) % 2 == 0 for start, _ in bounds[1:])
    assert sum(length for _, length in bounds) == pytest.approx(180.0)


def test_edit_lists_are_validated_with_reasons() -> None:
    ok = EditList.model_validate({"trim_start": 1, "trim_end": 4, "speed": 2, "rotate": 90,
                                  "crop": {"x": 0.1, "y": 0, "width": 0.5, "height": 1},
                                  "texts": [{"text": "hi", "start": 0, "end": 1}],
                                  "audio": {"key": "clips/7/raw/song.m4a", "mode": "mix", "volume": 0.5}})
    assert ok.output_duration(10.0) == pytest.approx(1.5)
    ok.check_for_clip(7)
    with pytest.raises(ValueError, match="belong to this clip"):
        ok.check_for_clip(8)
    for bad in ({"crop": {"x": 0.8, "width": 0.5}}, {"trim_start": 2, "trim_end": 2.2}, {"speed": 10},
                {"texts": [{"text": "x", "start": 3, "end": 1}]}, {"audio": {"key": "../etc/passwd"}},
                {"rotate": 45}, {"unknown": 1}, {"texts": [{"text": "a\x00b"}]}):
        with pytest.raises(ValidationError):
            EditList.model_validate(bad)
