"""Creating clips in the web app (/create) as people do: Playwright driving Debian's Chromium with
a fake camera against the journeys' real server (conftest.py), plus a real media worker process
sharing its data directory, so posted clips go through the whole pipeline. Screenshots at
390×844 (and the desktop form at 1440×900) land in tests/web/artifacts/create/."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import shared_media
from tests.web.conftest import WebStack, fake_camera, ffmpeg, media_worker, run_journeys, seen, serve_stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # one browser run of every journey, on a shared machine


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fake camera (Chromium's flags) and a file large enough for several 5 MiB chunks (the
    same clip at a high constant bitrate)."""
    folder = tmp_path_factory.mktemp("create-media")
    sample = shared_media() / "bigbuckbunny.mp4"
    camera, large = fake_camera(folder), folder / "large.mp4"
    ffmpeg("-i", str(sample), "-vf", "scale=-2:480", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "30M",
            "-minrate", "30M", "-maxrate", "30M", "-bufsize", "4M", "-x264-params", "nal-hrd=cbr", "-c:a", "copy",
            str(large))
    # A phone's 1080p file: 4 s at 40 Mbit/s (20 MB), far above the top rendition's 5 Mbit/s.
    phone = folder / "phone-1080p.mp4"
    ffmpeg("-i", str(sample), "-t", "4", "-vf", "scale=1920:1080,fps=30", "-c:v", "libx264",
            "-preset", "ultrafast", "-b:v", "40M", "-minrate", "40M", "-maxrate", "40M", "-bufsize", "8M",
            "-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-b:a", "128k", str(phone))
    return {"camera": camera, "large": large, "phone": phone}


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    """A server of their own: these journeys post clips, which the watching journeys' shared
    server must not show (they count its seeded clips)."""
    with serve_stack(tmp_path_factory.mktemp("web-create"), clips=0) as stack:
        yield stack


@pytest.fixture(scope="module")
def worker(web_stack: WebStack) -> Iterator[None]:
    with media_worker(web_stack):
        yield


@pytest.fixture(scope="module")
def journeys(web_stack: WebStack, worker: None, media: dict) -> dict[str, dict]:
    shared = shared_media()
    setup = {"url": web_stack.url, "creator": web_stack.creator,
             "chromiumArgs": media["camera"],
             "files": {"pick": str(shared / "carphone_pristine.mp4"), "large": str(media["large"]),
                       "phone": str(media["phone"]),
                       "bad": {"text": str(shared / "bad" / "text-renamed.mp4"),
                               "audio": str(shared / "bad" / "audio-only.mp4")}}}
    if os.environ.get("CLIPFEED_JOURNEYS"):  # a developer's partial run: these names (and the sign-in)
        setup["journeys"] = ["anonymous_asked_to_sign_in", *os.environ["CLIPFEED_JOURNEYS"].split(",")]
    return run_journeys("create_journeys.mjs", setup, "create", timeout=1700)



def shown_size(size: int) -> str:
    """A size as the page writes it: decimal megabytes, one decimal unless it is zero."""
    return f"{size / 1e6:.1f}".removesuffix(".0") + " MB"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_anonymous_visitor_on_create_is_asked_to_sign_in(journeys) -> None:
    result = seen(journeys, "anonymous_asked_to_sign_in")
    assert result["heading"] == "New clip" and result["prompt"] is True
    assert result["recorderBefore"] == 0  # no camera before signing in


def test_a_picked_file_is_uploaded_processed_and_plays_on_its_clip_page(journeys) -> None:
    result = seen(journeys, "pick_file")
    assert result["final"]["status"] == "ready", result["final"]
    assert result["upload"]["state"] == "complete"
    assert result["upload"]["sha256"] == sha256(shared_media() / "carphone_pristine.mp4")
    assert result["played"]["clip"] == result["upload"]["clip_id"] and result["played"]["videoWidth"] > 0
    assert result["followStatus"] == 200 and result["mention"].startswith(f"@{result['friend']}")
    assert result["typed"] == f"The classic test sequence #carphone with @{result['friend']} "  # completed in place
    assert result["clip"]["caption"] == f"The classic test sequence #carphone with @{result['friend']}"
    assert result["clip"]["hashtags"] == ["carphone"]


def test_a_recording_with_a_countdown_and_a_hashtag_from_the_autocomplete_plays_once_ready(journeys) -> None:
    result = seen(journeys, "record_and_post")
    assert 2500 <= result["countdownMs"] <= 5500  # three seconds, then recording
    assert len(result["takesBefore"]) == 2 and len(result["takesAfter"]) == 1  # the second take deleted
    assert result["suggestion"].startswith("#carphone")
    assert result["typed"] == "Recorded in the browser #carphone from the fake camera"
    assert result["final"]["status"] == "ready", result["final"]
    assert result["played"]["url"] == f"/c/{result['played']['clip']}" and result["played"]["currentTime"] > 0.3
    clip = result["clip"]
    assert clip["hashtags"] == ["carphone"]
    # The kept take's own length (as the page measured it), not the two takes joined; a loaded
    # machine stretches a "3 s" take, so the page's figure is the reference.
    kept, deleted = (float(re.search(r"Take \d, ([\d.]+) s", text).group(1)) for text in result["takesBefore"])
    assert kept >= 2.5 and abs(clip["duration_ms"] / 1000 - kept) < min(0.8, deleted), (clip, kept, deleted)
    assert clip["height"] > clip["width"]  # portrait, as the camera gave it


def test_an_upload_survives_a_dropped_connection_and_the_stored_file_is_the_file_sent(journeys, media) -> None:
    result = seen(journeys, "offline_then_resume")
    requests = result["requests"]
    assert any(r["status"] == 0 for r in requests), requests  # the connection did drop mid-upload
    heads = [r for r in requests if r["method"] == "HEAD"]
    assert heads and int(heads[-1]["newOffset"]) > 0, requests  # asked the server where it stood
    chunks = [int(r["newOffset"]) - int(r["offset"]) for r in requests if r["method"] == "PATCH" and r["status"] == 204]
    assert sum(chunks) == media["large"].stat().st_size  # each byte sent once: continued, not started over
    assert len(chunks) >= 3 and max(chunks) == 5 * 1024 * 1024  # 5 MiB chunks
    assert result["resumedText"].startswith("Continuing from")
    assert result["final"]["status"] == "ready", result["final"]
    assert result["upload"]["sha256"] == sha256(media["large"])


def test_an_upload_pauses_resumes_and_continues_after_a_reload_with_the_same_file(journeys, media) -> None:
    result = seen(journeys, "reload_then_resume")
    assert result["sentWhilePaused"] == 0  # paused before the reload: nothing went out
    assert any(text.startswith("large.mp4") for text in result["unfinished"]), result["unfinished"]
    assert [r["method"] for r in result["requests"]].count("POST") == 1  # the same upload, not a new one
    assert result["resumedText"].startswith("Continuing from") and "Continuing from 0" not in result["resumedText"]
    assert result["final"]["status"] == "ready", result["final"]
    assert result["upload"]["sha256"] == sha256(media["large"])
    assert result["clip"]["caption"] == "Survives a reload #reloaded"  # given before the reload


def test_two_takes_are_joined_into_one_clip(journeys) -> None:
    result = seen(journeys, "two_takes_joined")
    assert len(result["takes"]) == 2
    assert result["final"]["status"] == "ready", result["final"]
    assert 3000 <= result["clip"]["duration_ms"] <= 6000, result["clip"]  # both takes, about 2 s each


def test_bad_files_are_refused_with_the_reason_in_plain_words(journeys) -> None:
    result = seen(journeys, "bad_files")
    text, audio = result["seen"]["text"], result["seen"]["audio"]
    assert text["phase"] == "rejected" and "not a video file" in text["alert"], text
    assert audio["phase"] == "rejected" and "no video stream" in audio["alert"], audio


def test_a_refused_camera_or_a_browser_without_mediarecorder_is_told_plainly(journeys) -> None:
    result = seen(journeys, "camera_problems")["seen"]
    for case in result.values():
        assert not case["violations"] and not case["errors"], case
        assert case["canPick"] is True  # a file can still be posted
    assert "no permission to use the camera" in result["denied"]["alert"]
    assert "cannot record video (no MediaRecorder)" in result["noRecorder"]["alert"]


def test_on_a_desktop_the_post_form_sits_beside_the_preview(journeys) -> None:
    assert seen(journeys, "desktop")["besides"] is True


def test_a_large_phone_file_is_compressed_in_the_browser_and_stored_compressed(journeys, media) -> None:
    result = seen(journeys, "compress_large_file")
    original = media["phone"].stat().st_size
    megabytes = shown_size(original)
    assert result["expected"].startswith(megabytes) and " → about " in result["expected"], result["expected"]
    assert result["saving"].startswith(f"Compressed: {megabytes} → "), result["saving"]  # "20.x MB → 2.x MB"
    assert result["final"]["status"] == "ready", result["final"]
    upload = result["upload"]
    assert upload["state"] == "complete" and upload["sha256"] != sha256(media["phone"])
    assert upload["length"] < original / 3, (upload["length"], original)  # the compressed file was sent
    clip = result["clip"]
    assert (clip["width"], clip["height"]) == (1920, 1080) and 3500 <= clip["duration_ms"] <= 4500, clip


def test_the_compressed_file_goes_up_while_it_is_encoded_and_becomes_the_clip_at_the_post(journeys) -> None:
    result = seen(journeys, "compress_large_file")
    requests = result["requests"]
    created, *_, final = [r for r in requests if r["method"] == "POST"]
    assert (created["status"], created["concat"], created["deferLength"]) == (201, "partial", "1"), created
    patches = [r for r in requests if r["method"] == "PATCH"]
    assert patches and all(r["status"] == 204 for r in patches), patches
    assert result["encoded"] and patches[0]["at"] < result["encoded"], (patches[0], result["encoded"])
    assert re.fullmatch(r"Sent while compressing: [\d.]+ (kB|MB)\.", result["sentWhileCompressing"] or ""), result
    # The length goes with the last bytes, once, and is the stored file's.
    assert [r["length"] for r in patches if r["length"]] == [str(result["upload"]["length"])], patches
    assert patches[-1]["length"] == str(result["upload"]["length"])
    # The post: a final upload made of that partial one, which is the clip's.
    assert (final["status"], final["concat"]) == (201, f"final;{created['location']}"), final


def test_compression_can_be_skipped_to_send_the_original(journeys, media) -> None:
    result = seen(journeys, "compress_skipped")
    assert result["note"] == f"Sending the original file ({shown_size(media['phone'].stat().st_size)}).", result["note"]
    assert result["caption"] is True
    # What had gone up of the compressed file is deleted from the server (tus termination).
    assert result["deleteStatus"] == 204 and result["partialAfter"] == 404, result


def test_holding_the_record_button_or_space_records_while_held_and_takes_survive_a_reload(journeys) -> None:
    result = seen(journeys, "hold_to_record_and_reload")
    assert result["countdownWhileHeld"] == 0  # a hold records at once
    assert result["afterMouse"]["recording"] == 0 and len(result["afterMouse"]["takes"]) == 1  # released: stopped
    assert result["afterSpace"]["recording"] == 0 and len(result["afterSpace"]["takes"]) == 2
    seconds = [float(take.split(", ")[1].split(" ")[0]) for take in result["afterSpace"]["takes"]]
    assert 1.8 <= seconds[0] <= 8 and 1.3 <= seconds[1] <= 6, seconds  # as long as each was held (2 s, 1.5 s)
    assert result["restoredText"] == "2 takes from before were restored."
    assert result["takesAfterReload"] == result["afterSpace"]["takes"]
    assert result["previewWidth"] > 0  # a restored take plays
    assert result["takesAfterDiscard"] == 0 and result["restoredAfterDiscard"] == 0
