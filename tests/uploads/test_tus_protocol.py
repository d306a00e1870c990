"""The tus 1.0 endpoint, request by request, on both stacks (embedded and real engines)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from clipfeed.clips.models import Clip
from clipfeed.core.events import Event
from tests.helpers import assert_problem, signup
from tests.uploads.tus import OCTETS, SAMPLE, TUS, checksum, create, head, metadata, patch, send_all, upload_id

MiB = 1024 * 1024


async def _events(topic: str, *, services) -> list[Event]:
    await services.outbox.flush()
    found: list[Event] = []
    for partition in range(await services.log.partitions(topic)):
        found += [Event.decode(r.value) for r in await services.log.read(topic, partition, from_offset=0)]
    return found


async def _keys(prefix: str, *, services) -> list[str]:
    return [info.key async for info in services.blobs.list(prefix)]


async def _uploads_left_after_clean_up(*, services, within_s: float = 5.0) -> list[str]:
    """What is left under ``uploads/`` once the clean-up that runs after the final PATCH
    answered (handoff step 5) had ``within_s`` to remove it."""
    deadline = time.monotonic() + within_s
    while (left := await _keys("uploads/", services=services)) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return left


async def test_options_advertise_the_version_extensions_and_limits(client: httpx.AsyncClient) -> None:
    response = await client.options("/v1/uploads/")
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0" and response.headers["tus-resumable"] == "1.0.0"
    assert response.headers["tus-max-size"] == str(1024**3)
    assert set(response.headers["tus-extension"].split(",")) == {
        "creation", "creation-with-upload", "creation-defer-length", "expiration", "checksum",
        "termination", "concatenation"}
    assert response.headers["tus-checksum-algorithm"] == "sha1,md5,sha256"
    preflight = await client.options("/v1/uploads/", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "upload-offset,tus-resumable,content-type"})
    assert preflight.status_code == 200


async def test_a_chunked_checksummed_upload_becomes_one_processing_clip(client, services, big_clip: Path) -> None:
    alice = await signup(client, "alice")
    data = big_clip.read_bytes()
    created = await create(client, alice.auth, len(data), filename="noise.mp4", caption="Noise #test",
                           hashtags="one, two three", visibility="unlisted", edits='{"trim_start": 0, "trim_end": 2}')
    assert created.status_code == 201
    assert created.headers["upload-expires"].endswith("GMT")
    uid = upload_id(created)
    # Odd chunk sizes: parts and pending tails never line up with the 5 MiB parts.
    offset, last = 0, created
    for size in (3 * MiB, 7 * MiB + 5, 1, 6 * MiB, len(data)):
        chunk = data[offset:offset + size]
        last = await patch(client, alice.auth, uid, offset, chunk, Upload_Checksum=checksum("sha1", chunk))
        assert last.status_code == 204, last.text
        offset += len(chunk)
        assert int(last.headers["upload-offset"]) == offset
        if offset == len(data):
            break
    clip_id = last.headers["clipfeed-clip-id"]
    assert last.headers["clipfeed-upload-state"] == "complete"
    probe = await head(client, alice.auth, uid)
    assert probe.status_code == 200
    assert probe.headers["upload-offset"] == probe.headers["upload-length"] == str(len(data))
    assert probe.headers["cache-control"] == "no-store" and "filename" in probe.headers["upload-metadata"]

    clip = (await client.get(f"/v1/clips/{clip_id}", headers=alice.auth)).json()
    assert clip["status"] == "processing" and clip["visibility"] == "unlisted"
    assert clip["hashtags"] == ["test", "one", "two", "three"] and clip["width"] == 960
    async with services.db.session() as session:
        stored = await session.get(Clip, int(clip_id))
    assert stored is not None and stored.media["master"] == f"clips/{clip_id}/raw/master.mp4"
    master = await services.blobs.get(stored.media["master"])
    assert hashlib.sha256(master).hexdigest() == hashlib.sha256(data).hexdigest()
    assert await _uploads_left_after_clean_up(services=services) == []  # the upload's own bytes are gone

    # A client that missed the answer repeats the last PATCH: same clip, nothing new.
    again = await patch(client, alice.auth, uid, offset - len(chunk), chunk)
    assert_problem(again, 409)
    assert again.headers["upload-offset"] == str(len(data))
    empty = await patch(client, alice.auth, uid, len(data), b"")
    assert empty.status_code == 204 and empty.headers["clipfeed-clip-id"] == clip_id
    uploaded = [e for e in await _events("media.uploaded", services=services) if e.key == clip_id]
    assert len(uploaded) == 1
    assert uploaded[0].payload == {
        "clip_id": clip_id, "owner_id": str(alice.id), "master_key": f"clips/{clip_id}/raw/master.mp4",
        "filename": "noise.mp4", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "edits": {"trim_start": 0, "trim_end": 2}, "upload_id": uid}
    state = (await client.get(f"/v1/uploads/{uid}", headers=alice.auth)).json()
    assert state["state"] == "complete" and state["clip_id"] == clip_id and state["expires_at"] is None
    listed = (await client.get("/v1/users/alice/clips", headers=alice.auth)).json()["items"]
    assert [c["id"] for c in listed] == [clip_id]


async def test_protocol_errors_keep_tus_status_codes(client, services) -> None:
    alice, mallory = await signup(client, "alice"), await signup(client, "mallory")
    data = SAMPLE.read_bytes()
    no_version = await client.post("/v1/uploads/", headers={**alice.auth, "Upload-Length": "10"})
    assert_problem(no_version, 412)
    assert no_version.headers["tus-version"] == "1.0.0"
    assert_problem(await client.post("/v1/uploads/", headers={**alice.auth, "Tus-Resumable": "0.2.2",
                                                              "Upload-Length": "10"}), 412)
    unsigned = await client.post("/v1/uploads/", headers={**TUS, "Upload-Length": "10"})
    assert_problem(unsigned, 401)
    assert unsigned.headers["tus-resumable"] == "1.0.0"
    assert_problem(await create(client, alice.auth, 2 * 1024**3), 413)  # over Tus-Max-Size
    assert_problem(await client.post("/v1/uploads/", headers={**TUS, **alice.auth}), 400)  # no length

    uid = upload_id(await create(client, alice.auth, len(data), filename="b.mp4"))
    assert_problem(await client.patch(f"/v1/uploads/{uid}", headers={**alice.auth, **OCTETS, "Upload-Offset": "0"},
                                      content=data[:10]), 412)
    assert_problem(await client.patch(f"/v1/uploads/{uid}", headers={
        **TUS, **alice.auth, "Upload-Offset": "0", "Content-Type": "application/octet-stream"}, content=data[:10]), 415)
    assert (await patch(client, alice.auth, uid, 0, data[:1000])).status_code == 204
    wrong = await patch(client, alice.auth, uid, 500, data[500:900])
    assert_problem(wrong, 409)
    assert wrong.headers["upload-offset"] == "1000"
    assert_problem(await patch(client, alice.auth, uid, 1000, data[1000:] + b"extra"), 413)  # past Upload-Length
    bad_sum = await patch(client, alice.auth, uid, 1000, data[1000:2000], Upload_Checksum=checksum("md5", b"other"))
    assert_problem(bad_sum, 460)
    assert (await head(client, alice.auth, uid)).headers["upload-offset"] == "1000"  # the chunk was discarded
    assert_problem(await patch(client, alice.auth, uid, 1000, data[1000:2000], Upload_Checksum="crc32 AAAA"), 400)
    good = await patch(client, alice.auth, uid, 1000, data[1000:2000],
                       Upload_Checksum=checksum("sha256", data[1000:2000]))
    assert good.status_code == 204 and good.headers["upload-offset"] == "2000"

    # Someone else's upload does not exist for them.
    assert (await head(client, mallory.auth, uid)).status_code == 404
    assert_problem(await patch(client, mallory.auth, uid, 2000, data[2000:3000]), 404)
    assert_problem(await client.delete(f"/v1/uploads/{uid}", headers={**TUS, **mallory.auth}), 404)
    assert_problem(await client.get(f"/v1/uploads/{uid}", headers=mallory.auth), 404)
    assert_problem(await patch(client, alice.auth, "12345", 0, b"x"), 404)

    # Expired: 410 on HEAD and PATCH.
    from clipfeed.infra.db import utcnow
    from clipfeed.uploads.models import Upload

    async with services.db.session() as session:
        await session.execute(sa.update(Upload).where(Upload.id == int(uid)).values(expires_at=utcnow()))
    assert (await head(client, alice.auth, uid)).status_code == 410
    assert_problem(await patch(client, alice.auth, uid, 2000, data[2000:3000]), 410)


async def test_bad_metadata_is_refused_at_creation(client) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    bobs = (await client.post("/v1/clips", headers=bob.auth, json={"caption": "bob's draft"})).json()["id"]
    for meta in ({"visibility": "friends"}, {"caption": "x" * 2201}, {"hashtags": "ok no-dashes"},
                 {"edits": "[1, 2]"}, {"edits": "{not json"}, {"edits": '{"a": "' + "x" * 17000 + '"}'},
                 {"edits": '{"trim": [0, 2]}'}, {"edits": '{"trim_start": 1, "trim_end": 1.2}'},
                 {"clip_id": bobs}, {"clip_id": "abc"}, {"caption": "bell\x07"}):
        assert_problem(await create(client, alice.auth, 100, **meta), 400)
    # An edit list is checked with the pipeline's rules before any byte is sent, and says why.
    body = assert_problem(await create(client, alice.auth, 100, edits='{"speed": 10}'), 400)
    assert "not a valid edit list: speed" in body["detail"], body
    raw = await client.post("/v1/uploads/", headers={**TUS, **alice.auth, "Upload-Length": "9",
                                                     "Upload-Metadata": "caption not-base64!"})
    assert_problem(raw, 400)


async def test_bad_files_are_rejected_with_a_reason_and_nothing_is_kept(client, services) -> None:
    alice = await signup(client, "alice")
    bad = SAMPLE.parent / "bad"
    expected = {"text-renamed.mp4": "not a video file", "truncated.mp4": "damaged or incomplete",
                "audio-only.mp4": "no video stream"}
    for name, words in expected.items():
        uid, last = await send_all(client, alice.auth, (bad / name).read_bytes(), filename=name)
        body = assert_problem(last, 422)
        assert words in body["detail"], body
        probe = await head(client, alice.auth, uid)
        assert probe.status_code == 410 and words in probe.headers["clipfeed-upload-reason"]
        state = (await client.get(f"/v1/uploads/{uid}", headers=alice.auth)).json()
        assert state["state"] == "rejected" and words in state["reason"] and state["clip_id"] is None
        assert_problem(await patch(client, alice.auth, uid, 0, b"again"), 422)  # the verdict stands
    empty = await create(client, alice.auth, 0, filename="zero-bytes.mp4")
    assert "the file is empty" in assert_problem(empty, 422)["detail"]
    assert await _keys("uploads/", services=services) == [] and await _keys("clips/", services=services) == []
    assert (await client.get("/v1/users/alice/clips", headers=alice.auth)).json()["items"] == []


async def test_partial_uploads_concatenate_into_one_clip(client, services, big_clip: Path) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    data = big_clip.read_bytes()
    cuts = [0, 6 * MiB + 3, 13 * MiB, len(data)]
    urls = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        made = await client.post("/v1/uploads/", headers={**TUS, **alice.auth, "Upload-Concat": "partial",
                                                          "Upload-Length": str(end - start)})
        assert made.status_code == 201
        done = await patch(client, alice.auth, upload_id(made), 0, data[start:end])
        assert done.status_code == 204 and "clipfeed-clip-id" not in done.headers
        assert (await head(client, alice.auth, upload_id(made))).headers["upload-concat"] == "partial"
        urls.append(made.headers["location"])
    with_meta = {**TUS, "Upload-Concat": "final;" + " ".join(urls)}
    assert_problem(await client.post("/v1/uploads/", headers={**with_meta, **bob.auth}), 400)  # not his
    final = await client.post("/v1/uploads/", headers={**with_meta, **alice.auth,
                                                       "Upload-Metadata": "caption UGFydHM="})
    assert final.status_code == 201, final.text
    clip_id = final.headers["clipfeed-clip-id"]
    assert final.headers["upload-offset"] == str(len(data))
    assert (await head(client, alice.auth, upload_id(final))).headers["upload-concat"].startswith("final;")
    assert_problem(await patch(client, alice.auth, upload_id(final), 0, b"x"), 403)
    assert_problem(await client.post("/v1/uploads/", headers={**with_meta, **alice.auth}), 400)  # used up
    master = await services.blobs.get(f"clips/{clip_id}/raw/master.mp4")
    assert hashlib.sha256(master).digest() == hashlib.sha256(data).digest()
    assert (await client.get(f"/v1/clips/{clip_id}", headers=alice.auth)).json()["caption"] == "Parts"
    assert await _uploads_left_after_clean_up(services=services) == []


async def test_a_file_sent_while_encoded_becomes_a_clip_when_posted(client, services, big_clip: Path) -> None:
    """The web app's compressed upload: a partial upload of deferred length fed as the encoder
    writes (short PATCHes, then the length with the last bytes, or alone), and the post's final
    upload carrying the details; one left for the original is terminated."""
    alice = await signup(client, "alice")
    data = big_clip.read_bytes()
    partial = {**TUS, **alice.auth, "Upload-Concat": "partial", "Upload-Defer-Length": "1"}
    made = await client.post("/v1/uploads/", headers={**partial, "Upload-Metadata": metadata(filename="a.mp4")})
    assert made.status_code == 201, made.text
    uid = upload_id(made)
    offset = 0
    for size in (MiB + 5, 3 * MiB, 2 * MiB):
        assert (await patch(client, alice.auth, uid, offset, data[offset:offset + size])).status_code == 204
        offset += size
        assert (await head(client, alice.auth, uid)).headers["upload-defer-length"] == "1"  # still encoding
    last = await patch(client, alice.auth, uid, offset, data[offset:], Upload_Length=str(len(data)))
    assert last.status_code == 204 and last.headers["clipfeed-upload-state"] == "complete"
    assert "clipfeed-clip-id" not in last.headers  # no clip before the post
    # Every byte went before the encode ended: the length comes alone, in an empty PATCH.
    early = await client.post("/v1/uploads/", headers=partial)
    assert (await patch(client, alice.auth, upload_id(early), 0, data[:MiB])).status_code == 204
    alone = await patch(client, alice.auth, upload_id(early), MiB, b"", Upload_Length=str(MiB))
    assert alone.status_code == 204 and alone.headers["clipfeed-upload-state"] == "complete"
    # The post.
    final = await client.post("/v1/uploads/", headers={
        **TUS, **alice.auth, "Upload-Concat": f"final;{made.headers['location']}",
        "Upload-Metadata": metadata(filename="a.mp4", caption="Sent while encoded #stream", visibility="unlisted",
                                    edits='{"trim_start": 0, "trim_end": 2}')})
    assert final.status_code == 201, final.text
    clip = (await client.get(f"/v1/clips/{final.headers['clipfeed-clip-id']}", headers=alice.auth)).json()
    assert clip["caption"] == "Sent while encoded #stream" and clip["visibility"] == "unlisted"
    master = await services.blobs.get(f"clips/{clip['id']}/raw/master.mp4")
    assert hashlib.sha256(master).digest() == hashlib.sha256(data).digest()
    # "Send the original" half-way: the partial upload is terminated, its bytes gone.
    doomed = await client.post("/v1/uploads/", headers=partial)
    assert (await patch(client, alice.auth, upload_id(doomed), 0, data[:MiB])).status_code == 204
    gone = await client.delete(f"/v1/uploads/{upload_id(doomed)}", headers={**TUS, **alice.auth,
                                                                             "Upload-Concat": "partial"})
    assert gone.status_code == 204
    assert (await head(client, alice.auth, upload_id(doomed))).status_code == 404
    assert not [k for k in await _keys("uploads/", services=services) if upload_id(doomed) in k]


async def test_creation_with_upload_deferred_length_termination_and_drafts(client, services) -> None:
    alice = await signup(client, "alice")
    data = SAMPLE.read_bytes()
    # creation-with-upload: the POST carries the first chunk.
    first = await client.post("/v1/uploads/", headers={**TUS, **alice.auth, **OCTETS,
                                                       "Upload-Length": str(len(data))}, content=data[:4096])
    assert first.status_code == 201 and first.headers["upload-offset"] == "4096"
    # creation-defer-length: the length comes with a later PATCH.
    deferred = await create(client, alice.auth, None)
    uid = upload_id(deferred)
    assert (await head(client, alice.auth, uid)).headers["upload-defer-length"] == "1"
    assert (await patch(client, alice.auth, uid, 0, data[:5000])).status_code == 204
    done = await patch(client, alice.auth, uid, 5000, data[5000:], Upload_Length=str(len(data)))
    assert done.status_code == 204 and done.headers["clipfeed-clip-id"]
    # termination: the bytes go and the upload is unknown afterwards.
    doomed = upload_id(first)
    assert (await client.delete(f"/v1/uploads/{doomed}", headers={**TUS, **alice.auth})).status_code == 204
    assert (await head(client, alice.auth, doomed)).status_code == 404
    assert not [k for k in await _keys("uploads/", services=services) if doomed in k]
    # A draft from POST /v1/clips receives the video; one upload at a time per draft.
    draft = (await client.post("/v1/clips", headers=alice.auth, json={"caption": "draft first"})).json()["id"]
    attach = await create(client, alice.auth, len(data), clip_id=draft)
    assert_problem(await create(client, alice.auth, len(data), clip_id=draft), 409)
    # Clients behind proxies that drop PATCH send it as a POST with X-HTTP-Method-Override.
    finished = await client.post(f"/v1/uploads/{upload_id(attach)}", content=data, headers={
        **TUS, **OCTETS, **alice.auth, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"})
    assert finished.headers["clipfeed-clip-id"] == draft
    clip = (await client.get(f"/v1/clips/{draft}", headers=alice.auth)).json()
    assert clip["status"] == "processing" and clip["caption"] == "draft first"


async def test_quotas_and_rate_limits(client, services) -> None:
    services.settings.upload_max_concurrent = 2
    services.settings.upload_daily_bytes = 5000
    services.settings.upload_create_rate_per_hour = 5  # refused attempts count too
    alice = await signup(client, "alice")
    assert (await create(client, alice.auth, 2000)).status_code == 201
    assert (await create(client, alice.auth, 2000)).status_code == 201
    busy = assert_problem(await create(client, alice.auth, 10), 429)
    assert "unfinished uploads" in busy["detail"]
    services.settings.upload_max_concurrent = 10
    assert "daily upload quota" in assert_problem(await create(client, alice.auth, 2000), 429)["detail"]
    assert (await create(client, alice.auth, 10)).status_code == 201
    limited = await create(client, alice.auth, 10)  # the sixth attempt this hour
    assert_problem(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1 and limited.headers["tus-resumable"] == "1.0.0"


async def test_a_patch_past_the_end_of_a_finished_upload_is_refused(client) -> None:
    alice = await signup(client, "alice")
    data = SAMPLE.read_bytes()
    uid, done = await send_all(client, alice.auth, data, chunk=len(data), filename="whole.mp4")
    assert done.status_code == 204 and done.headers["upload-offset"] == str(len(data))
    # One byte more at the end is past Upload-Length, whether the upload is finished or not.
    assert_problem(await patch(client, alice.auth, uid, len(data), b"x"), 413)
    assert (await head(client, alice.auth, uid)).headers["upload-offset"] == str(len(data))
    # An empty PATCH at the end repeats the outcome (a client retrying its last request).
    again = await patch(client, alice.auth, uid, len(data), b"")
    assert again.status_code == 204 and again.headers["clipfeed-clip-id"] == done.headers["clipfeed-clip-id"]
