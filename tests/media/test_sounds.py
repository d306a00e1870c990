"""The sound library (made by FFmpeg into the object store), ``GET /v1/sounds`` with its signed
preview URLs, and the overlay font the editor previews with."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from clipfeed.media import sounds
from clipfeed.media.transcode import FONT
from tests.helpers import assert_problem, signup

pytestmark = pytest.mark.parametrize("stack", ["embedded"], indirect=True)


def probe(path: Path) -> dict[str, object]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name,channels",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def loudest_db(path: Path) -> float:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "volumedetect",
                          "-f", "null", "-"], capture_output=True, text=True, check=True)
    line = next(line for line in out.stderr.splitlines() if "max_volume" in line)
    return float(line.split("max_volume:")[1].split("dB")[0])


async def test_the_library_is_made_once_and_every_sound_is_audible_aac_of_its_length(tmp_path, *, services) -> None:
    assert await sounds.available(services=services) == []
    made = await sounds.ensure_library(services=services)
    assert made == [sound.key for sound in sounds.LIBRARY]
    for sound in sounds.LIBRARY:
        path = tmp_path / f"{sound.name}.m4a"
        await services.blobs.download(sound.key, path)
        info = probe(path)
        assert info["streams"] == [{"codec_name": "aac", "channels": 2}]
        assert float(info["format"]["duration"]) == pytest.approx(sound.duration, abs=0.1)
        assert -30 < loudest_db(path) <= 0, sound.name  # audible, not clipped silence
    assert await sounds.ensure_library(services=services) == []  # a second start makes nothing
    assert await sounds.available(services=services) == list(sounds.LIBRARY)


async def test_a_start_killed_half_way_is_completed_by_the_next_without_redoing_the_rest(*, services) -> None:
    await sounds.ensure_library(services=services)
    kept = {s.key: (await services.blobs.stat(s.key)).etag for s in sounds.LIBRARY}
    # What a process killed after its second sound leaves: two sounds stored, the rest absent
    # (each sound is one atomic put, so none is stored half-made).
    for sound in sounds.LIBRARY[2:]:
        await services.blobs.delete(sound.key)
    assert [s.key for s in await sounds.available(services=services)] == [s.key for s in sounds.LIBRARY[:2]]
    assert await sounds.ensure_library(services=services) == [s.key for s in sounds.LIBRARY[2:]]
    for sound in sounds.LIBRARY[:2]:
        assert (await services.blobs.stat(sound.key)).etag == kept[sound.key]


async def test_sounds_are_listed_for_signed_in_users_with_previews_only_their_signature_opens(
        client, services) -> None:
    alice = await signup(client, "alice")
    assert_problem(await client.get("/v1/sounds"), 401)
    assert (await client.get("/v1/sounds", headers=alice.auth)).json() == {"items": []}  # not made yet
    await sounds.ensure_library(services=services)
    listed = (await client.get("/v1/sounds", headers=alice.auth)).json()["items"]
    assert [(s["key"], s["title"], s["duration"]) for s in listed] == [
        (s.key, s.title, s.duration) for s in sounds.LIBRARY]
    preview = urlsplit(listed[0]["preview_url"]).path
    assert preview.startswith("/media/s/") and preview.endswith(listed[0]["key"])
    played = await client.get(preview)
    assert played.status_code == 200 and played.headers["content-type"] == "audio/mp4"
    assert played.content == await services.blobs.get(listed[0]["key"])
    ranged = await client.get(preview, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100

    assert_problem(await client.get(f"/media/{listed[0]['key']}"), 404)  # unsigned
    kid, expires, signature, rest = preview.removeprefix("/media/s/").split("/", 3)
    forged = f"/media/s/{kid}/{expires}/{signature[:-2]}AA/{rest}"
    assert_problem(await client.get(forged), 403)
    # A token for the library opens no clip, and no other object under sounds/.
    assert_problem(await client.get(f"/media/s/{kid}/{expires}/{signature}/clips/1/hls/master.m3u8"), 403)
    assert_problem(await client.get(f"/media/s/{kid}/{expires}/{signature}/sounds/v1/other.m4a"), 404)


async def test_a_re_edit_may_lay_a_library_sound_under_the_clip_but_not_one_that_is_absent(client, services) -> None:
    from clipfeed.media.job import Job
    from clipfeed.media.pipeline import run_job
    from tests.media.submit import SHARED, submit

    alice = await signup(client, "alice")
    event = await submit(SHARED / "carphone_pristine.mp4", owner_id=alice.id, services=services)
    clip_id = int(event.key)
    assert await run_job(Job.from_event(event), services=services) == "ready"
    body = {"audio": {"key": sounds.LIBRARY[0].key, "mode": "mix", "volume": 0.8, "original_volume": 0.5}}
    assert_problem(await client.post(f"/v1/clips/{clip_id}/edits", headers=alice.auth, json=body), 422)
    await sounds.ensure_library(services=services)
    accepted = await client.post(f"/v1/clips/{clip_id}/edits", headers=alice.auth, json=body)
    assert accepted.status_code == 202


async def test_the_editor_reads_a_clips_edit_list_and_original_upload_and_only_its_creator_may(
        client, services) -> None:
    from clipfeed.media.job import Job
    from clipfeed.media.pipeline import run_job
    from tests.media.submit import SHARED, submit

    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    source = SHARED / "carphone_pristine.mp4"
    event = await submit(source, owner_id=alice.id, services=services)
    clip_id = int(event.key)
    assert await run_job(Job.from_event(event), services=services) == "ready"
    current = await client.get(f"/v1/clips/{clip_id}/edits", headers=alice.auth)
    assert current.status_code == 200 and current.json()["edits"]["speed"] == 1.0
    original = await client.get(current.json()["original_url"], headers=alice.auth)
    assert original.status_code == 200 and original.content == source.read_bytes()
    for path in (f"/v1/clips/{clip_id}/edits", f"/v1/clips/{clip_id}/original"):
        assert_problem(await client.get(path, headers=bob.auth), 403)
        assert_problem(await client.get(path), 401)
    assert_problem(await client.get("/v1/clips/999999999/original", headers=alice.auth), 404)


async def test_the_editor_gets_the_very_font_file_the_transcoder_draws_with(client) -> None:
    served = await client.get("/v1/fonts/overlay.ttf")
    assert served.status_code == 200 and served.headers["content-type"] == "font/ttf"
    assert served.content == FONT.read_bytes() and served.content[:4] == b"\x00\x01\x00\x00"
    # Shipped in the package (a wheel carries it), not read from a system font folder.
    import fnmatch
    import tomllib

    import clipfeed

    package = Path(clipfeed.__file__).parent
    relative = FONT.relative_to(package).as_posix()
    pyproject = tomllib.loads((package.parent.parent / "pyproject.toml").read_text())
    assert any(fnmatch.fnmatch(relative, pattern)
               for pattern in pyproject["tool"]["setuptools"]["package-data"]["clipfeed"]), relative
