"""The web app's video editor as people use it: Playwright driving Debian's Chromium with a fake
camera against a server of its own and a real media worker process (which also makes the sound
library when it starts). The preview's text overlay is compared, pixel box against pixel box,
with a frame the server's own filter graph renders from the same upload and edit list; and the
posted clip's overlay is looked for in a frame a second person's browser decoded. Screenshots at
390×844 and 1440×900 land in tests/web/artifacts/editor/."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from clipfeed.media import transcode
from clipfeed.media.edits import EditList
from clipfeed.media.probe import probe
from tests.services import shared_media
from tests.web.conftest import ARTIFACTS, WebStack, fake_camera, ffmpeg, media_worker, run_journeys, seen, serve_stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
# How far apart the preview's overlay box and the server's may be, in picture pixels: glyph
# hinting (FreeType) against the browser's unhinted advances, and the preview's scaling.
TOLERANCE_PX = 5


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return fake_camera(tmp_path_factory.mktemp("editor-media"))


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    """One seeded clip (its caption's #kickflip feeds the hashtag autocomplete)."""
    with serve_stack(tmp_path_factory.mktemp("web-editor"), clips=1) as stack:
        yield stack


@pytest.fixture(scope="module")
def worker(web_stack: WebStack) -> Iterator[None]:
    with media_worker(web_stack):
        yield


@pytest.fixture(scope="module")
def journeys(web_stack: WebStack, worker: None, camera: list[str]) -> dict[str, dict]:
    setup = {"url": web_stack.url, "creator": web_stack.creator,
             "chromiumArgs": camera,
             "files": {"pick": str(shared_media() / "carphone_pristine.mp4")}}
    return run_journeys("editor_journeys.mjs", setup, "editor", timeout=1700)


def changed_box(with_overlay: Path, without: Path) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the pixels that differ between two pictures (exclusive end)."""
    a = np.asarray(Image.open(with_overlay).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(without).convert("RGB"), dtype=np.int16)
    assert a.shape == b.shape, (a.shape, b.shape)
    ys, xs = np.nonzero(np.abs(a - b).max(axis=2) > 12)
    assert len(xs), "no overlay drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


async def _server_frames(source: Path, edits: EditList, at: float, workdir: Path) -> tuple[Path, Path]:
    """The frame at ``at`` s of the edited clip, at full size, rendered by the transcoder's own
    filter graph with the edit list, and without its texts."""
    found = await probe(source)
    frames = []
    for name, edit_list in (("with", edits), ("without", edits.model_copy(update={"texts": []}))):
        plan = transcode.make_plan(found, source, edit_list.model_copy(update={"audio": None}))
        graph = f"{transcode.video_chain(plan, workdir)};[src]trim=start={at:.3f},setpts=PTS-STARTPTS[out]"
        out = workdir / f"server-{name}.png"
        ffmpeg(*transcode.input_args(plan), "-filter_complex", graph, "-map", "[out]", "-frames:v", "1", str(out))
        frames.append(out)
    return frames[0], frames[1]


def test_a_recording_is_trimmed_captioned_with_text_and_sound_and_plays_for_another_person(journeys) -> None:
    result = seen(journeys, "record_edit_post")
    assert len(result["sounds"]) == 5
    assert result["thumbs"] == [True] * 8  # the filmstrip, made in the browser
    assert 2.5 <= result["duration"] <= 4.5, result["duration"]
    assert result["trimStartKeyed"] == pytest.approx(0.3)  # three arrow presses
    assert result["trimEndDragged"] == pytest.approx(result["duration"] * 0.9, abs=0.15)  # dragged a tenth back
    assert result["rateAt2"] == 2
    assert result["after"]["y"] < result["before"]["y"] - 100  # dragged up
    assert result["nudged"]["x"] < result["after"]["x"]  # and nudged left by keys
    playing = result["playing"]
    assert not playing["videoPaused"] and not playing["audioPaused"]
    assert 0.3 - 0.05 <= playing["currentTime"] <= result["trimEndDragged"] + 0.05
    assert playing["audioVolume"] == 1 and playing["videoVolume"] == pytest.approx(0.5)  # balance 0.75
    assert result["typed"] == "Edited in the browser #kickflip "
    assert result["status"] == "ready", result
    edits = result["edits"]
    assert edits["trim_start"] == pytest.approx(0.3) and edits["trim_end"] == pytest.approx(result["trimEndDragged"])
    assert edits["cover_time"] == 1 and edits["speed"] == 1
    assert edits["audio"] == {"key": "sounds/v1/arpeggio.m4a", "mode": "mix", "volume": 1.0, "original_volume": 0.5,
                              "offset": 0.0}
    [text] = edits["texts"]
    assert text["text"] == "Hi Clipfeed" and text["color"] == "#ff00ff" and text["size"] == 0.08
    assert text["y"] < 0.4 and text["x"] == pytest.approx(0.48, abs=0.015)  # dragged up, two key presses left
    assert result["clip"]["duration_ms"] == pytest.approx((edits["trim_end"] - 0.3) * 1000, abs=120)
    assert result["clip"]["hashtags"] == ["kickflip"]


def test_the_preview_draws_the_text_where_the_server_renders_it(journeys, web_stack: WebStack, tmp_path) -> None:
    result = seen(journeys, "record_edit_post")
    preview = result["preview"]
    assert preview["fontLoaded"] is True
    clip_id = result["clip"]["id"]
    original = httpx.get(f"{web_stack.url}/v1/clips/{clip_id}/original", timeout=60,
                         headers={"Authorization": f"Bearer {result['token']}"})
    assert original.status_code == 200
    source = tmp_path / "original.mp4"
    source.write_bytes(original.content)
    edits = EditList.model_validate(result["edits"])
    served_with, served_without = asyncio.run(_server_frames(source, edits, preview["editedTime"], tmp_path))
    server = changed_box(served_with, served_without)

    left, top, width, _height = preview["canvas"]
    scale = width / preview["picture"][0]
    shown = changed_box(Path(preview["with"]), Path(preview["without"]))
    browser = ((shown[0] - left) / scale, (shown[1] - top) / scale, (shown[2] - left) / scale, (shown[3] - top) / scale)
    assert Image.open(served_with).size == tuple(preview["picture"])
    (ARTIFACTS / "editor" / "layout-comparison.json").write_text(json.dumps(
        {"browser_px": browser, "server_px": server, "preview_scale": scale, "picture": preview["picture"]}))
    for edge, (ours, theirs) in zip("ltrb", zip(browser, server, strict=True), strict=True):
        assert abs(ours - theirs) <= TOLERANCE_PX + 1 / scale, (edge, browser, server)


def test_the_posted_clips_overlay_is_in_the_frame_a_second_person_decoded(journeys) -> None:
    result = seen(journeys, "record_edit_post")
    frame = np.asarray(Image.open(result["viewerFrame"]["path"]).convert("RGB"), dtype=np.int16)
    assert result["viewerFrame"]["clip"] == result["clip"]["id"]
    red, green, blue = frame[..., 0], frame[..., 1], frame[..., 2]
    magenta = (red > 170) & (blue > 170) & (green < 110)  # the text's #ff00ff, after compression
    ys, xs = np.nonzero(magenta)
    assert len(xs) > 150, len(xs)
    height = frame.shape[0]
    # Where the edit list put it: above the middle (dragged up), near the horizontal centre.
    assert np.median(ys) < height * 0.5 and abs(np.median(xs) / frame.shape[1] - 0.48) < 0.15


def test_the_editor_lays_its_preview_beside_the_panels_on_a_desktop(journeys) -> None:
    assert seen(journeys, "desktop")["besides"] is True


def test_a_studio_re_edit_opens_on_the_clips_edits_and_brings_it_back_ready_with_the_new_text(journeys) -> None:
    result = seen(journeys, "studio_reedit")
    first = seen(journeys, "record_edit_post")["edits"]
    assert result["opened"] == {"text": "Hi Clipfeed", "trimStart": 0.3, "sound": True}
    # What was not touched is sent as it was.
    untouched = [key for key in first if key != "texts"]
    assert {key: result["edits"][key] for key in untouched} == {key: first[key] for key in untouched}
    assert result["accepted"] == 202
    assert result["status"] == "ready"
    assert [t["text"] for t in result["edits"]["texts"]] == ["Take two"]
    assert result["edits"]["audio"]["key"] == "sounds/v1/arpeggio.m4a"
