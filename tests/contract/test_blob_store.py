"""The object store contract, run against the local directory tree and S3 (SeaweedFS)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clipfeed.core.errors import Unavailable
from clipfeed.infra.blobs import BlobNotFound, BlobStore, InvalidKey, PartInfo, open_blob_store
from clipfeed.infra.blobs.local import LocalBlobStore
from tests.services import free_port

MiB = 1024 * 1024


def _bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _chunks(data: bytes, size: int = MiB) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset:offset + size]


async def _read(store: BlobStore, key: str, **kwargs: int | None) -> bytes:
    return b"".join([chunk async for chunk in store.open_read(key, **kwargs)])


async def _keys(store: BlobStore, prefix: str = "") -> list[str]:
    return [info.key async for info in store.list(prefix)]


@pytest.fixture(params=["local", "s3"])
async def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        url = (tmp_path / "blobs").as_uri()
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"clipfeed-{uuid.uuid4().hex[:12]}"
        # A key prefix in the URL, so every test also checks that it is applied and stripped.
        url = (f"s3://{bucket}/store?endpoint={endpoint}&region=us-east-1"
               "&access_key=any&secret_key=any")
    store = open_blob_store(url)
    try:
        yield store
    finally:
        await store.close()


async def test_put_then_get_returns_the_same_bytes(blob_store: BlobStore) -> None:
    info = await blob_store.put("clips/1/thumb.jpg", b"\xff\xd8jpeg", content_type="image/jpeg")
    assert (info.key, info.size, info.content_type) == ("clips/1/thumb.jpg", 6, "image/jpeg")
    assert await blob_store.get("clips/1/thumb.jpg") == b"\xff\xd8jpeg"
    assert await blob_store.exists("clips/1/thumb.jpg")
    await blob_store.put("empty", b"")
    assert await blob_store.get("empty") == b""
    assert await _read(blob_store, "empty") == b""
    await blob_store.ping()


async def test_streaming_put_of_more_than_5_mib_stores_every_byte(blob_store: BlobStore) -> None:
    data = _bytes(11 * MiB + 123)
    info = await blob_store.put("raw/upload.mp4", _chunks(data), content_type="video/mp4")
    assert info.size == len(data)
    assert _sha(await blob_store.get("raw/upload.mp4")) == _sha(data)
    assert (await blob_store.stat("raw/upload.mp4")).content_type == "video/mp4"


async def test_streaming_put_of_a_small_stream_stores_it_whole(blob_store: BlobStore) -> None:
    info = await blob_store.put("small", _chunks(b"abcdef", size=2))
    assert info.size == 6
    assert await blob_store.get("small") == b"abcdef"


async def test_range_read_returns_inclusive_byte_range(blob_store: BlobStore) -> None:
    data = _bytes(1000, seed=1)
    await blob_store.put("segment.m4s", data)
    assert await _read(blob_store, "segment.m4s", start=0, end=0) == data[:1]
    assert await _read(blob_store, "segment.m4s", start=100, end=199) == data[100:200]
    assert await _read(blob_store, "segment.m4s", start=995, end=999) == data[-5:]
    assert await _read(blob_store, "segment.m4s", start=990) == data[990:]
    assert await _read(blob_store, "segment.m4s", start=900, end=5000) == data[900:]
    assert await _read(blob_store, "segment.m4s", start=2000) == b""
    assert await _read(blob_store, "segment.m4s") == data
    chunks = [chunk async for chunk in blob_store.open_read("segment.m4s", chunk_size=300)]
    assert b"".join(chunks) == data and max(map(len, chunks)) <= 300
    with pytest.raises(ValueError):
        await _read(blob_store, "segment.m4s", start=10, end=9)


async def test_stat_reports_size_and_type_and_a_new_etag_after_overwrite(blob_store: BlobStore) -> None:
    first = await blob_store.put("manifest.m3u8", b"#EXTM3U\n",
                                 content_type="application/vnd.apple.mpegurl")
    stat = await blob_store.stat("manifest.m3u8")
    assert (stat.size, stat.etag, stat.content_type) == (8, first.etag,
                                                         "application/vnd.apple.mpegurl")
    await blob_store.put("manifest.m3u8", b"#EXTM3U\n#2\n", content_type="text/plain")
    second = await blob_store.stat("manifest.m3u8")
    assert second.etag != first.etag
    assert (second.size, second.content_type) == (11, "text/plain")
    await blob_store.put("manifest.m3u8", b"#EXTM3U\n#3\n", content_type="text/plain")
    assert (await blob_store.stat("manifest.m3u8")).etag not in (first.etag, second.etag)


async def test_a_missing_blob_raises_blob_not_found(blob_store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(BlobNotFound):
        await blob_store.get("nothing/here")
    with pytest.raises(BlobNotFound):
        await blob_store.stat("nothing/here")
    with pytest.raises(BlobNotFound):
        await _read(blob_store, "nothing/here")
    with pytest.raises(BlobNotFound):
        await _read(blob_store, "nothing/here", start=5, end=10)
    with pytest.raises(BlobNotFound):
        await blob_store.copy("nothing/here", "copy")
    with pytest.raises(BlobNotFound):
        await blob_store.download("nothing/here", tmp_path / "out")
    assert not await blob_store.exists("nothing/here")
    await blob_store.delete("nothing/here")  # not an error


@pytest.mark.parametrize("key", ["../x", "/abs", "a//b", "a\\b", "a\x00b", "", "a/../b", "a/./b", "a/"])
async def test_invalid_keys_are_refused(blob_store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        await blob_store.put(key, b"x")
    with pytest.raises(InvalidKey):
        await blob_store.get(key)
    with pytest.raises(InvalidKey):
        await blob_store.stat(key)
    with pytest.raises(InvalidKey):
        await _read(blob_store, key)
    with pytest.raises(InvalidKey):
        await blob_store.create_multipart(key)


async def test_list_returns_blobs_under_a_prefix_in_key_order(blob_store: BlobStore) -> None:
    for key in ["b/2", "a/c/d", "ab", "a0", "b/1", "a/b"]:
        await blob_store.put(key, key.encode(), content_type="text/plain")
    upload_id = await blob_store.create_multipart("a/pending")
    await blob_store.upload_part("a/pending", upload_id, 1, b"part")
    assert await _keys(blob_store) == ["a/b", "a/c/d", "a0", "ab", "b/1", "b/2"]
    assert await _keys(blob_store, "a/") == ["a/b", "a/c/d"]
    assert await _keys(blob_store, "a") == ["a/b", "a/c/d", "a0", "ab"]
    assert await _keys(blob_store, "a/c") == ["a/c/d"]
    assert await _keys(blob_store, "zzz/") == []
    infos = [info async for info in blob_store.list("b/")]
    assert [(info.key, info.size) for info in infos] == [("b/1", 3), ("b/2", 3)]
    assert infos[0].etag == (await blob_store.stat("b/1")).etag
    with pytest.raises(InvalidKey):
        await _keys(blob_store, "../")
    await blob_store.abort_multipart("a/pending", upload_id)


async def test_list_puts_a_folder_after_siblings_that_sort_before_its_slash(
        blob_store: BlobStore, request: pytest.FixtureRequest) -> None:
    if "s3" in request.node.callspec.id:
        # SeaweedFS lists in its filer's folder-walk order, so "a/b" comes before "a-c" although
        # "/" sorts after "-" (AWS gets this right). Strict: it fails loudly once fixed upstream.
        request.applymarker(pytest.mark.xfail(reason="SeaweedFS lists folders before a-c", strict=True))
    for key in ["a/b", "a-c", "a.d", "a+e", "a0"]:
        await blob_store.put(key, b"x")
    assert await _keys(blob_store) == ["a+e", "a-c", "a.d", "a/b", "a0"]


async def test_delete_removes_one_blob_and_delete_prefix_a_whole_subtree(blob_store: BlobStore) -> None:
    for key in ["clips/1/a", "clips/1/b", "clips/1/sub/c", "clips/10/a", "clips/2/a"]:
        await blob_store.put(key, b"x")
    await blob_store.delete("clips/2/a")
    assert not await blob_store.exists("clips/2/a")
    assert await blob_store.delete_prefix("clips/1/") == 3
    assert await _keys(blob_store) == ["clips/10/a"]
    assert await blob_store.delete_prefix("clips/1/") == 0
    await blob_store.put("clips/1/a", b"again")  # the emptied folder can be used again
    assert await blob_store.get("clips/1/a") == b"again"


async def test_copy_duplicates_bytes_and_content_type(blob_store: BlobStore) -> None:
    data = _bytes(3 * MiB, seed=2)
    await blob_store.put("hot/clip.mp4", data, content_type="video/mp4")
    info = await blob_store.copy("hot/clip.mp4", "cold/clip.mp4")
    assert (info.key, info.size, info.content_type) == ("cold/clip.mp4", len(data), "video/mp4")
    assert _sha(await blob_store.get("cold/clip.mp4")) == _sha(data)
    assert await blob_store.get("hot/clip.mp4") == data


async def test_multipart_upload_of_three_parts_equals_their_concatenation(blob_store: BlobStore) -> None:
    pieces = [_bytes(5 * MiB, seed=3), _bytes(5 * MiB, seed=4), _bytes(1000, seed=5)]
    upload_id = await blob_store.create_multipart("raw/big.mov", content_type="video/quicktime")
    parts = [await blob_store.upload_part("raw/big.mov", upload_id, number, piece)
             for number, piece in enumerate(pieces, start=1)]
    assert [(part.number, part.size) for part in parts] == [(1, 5 * MiB), (2, 5 * MiB), (3, 1000)]
    assert await blob_store.list_parts("raw/big.mov", upload_id) == parts
    assert not await blob_store.exists("raw/big.mov")
    info = await blob_store.complete_multipart("raw/big.mov", upload_id, parts)
    assert (info.size, info.content_type) == (sum(map(len, pieces)), "video/quicktime")
    assert _sha(await blob_store.get("raw/big.mov")) == _sha(b"".join(pieces))
    assert await _keys(blob_store) == ["raw/big.mov"]
    with pytest.raises(BlobNotFound):
        await blob_store.list_parts("raw/big.mov", upload_id)


async def test_uploaded_parts_survive_reopening_the_store(blob_store: BlobStore) -> None:
    pieces = [_bytes(5 * MiB, seed=6), _bytes(77, seed=7)]
    upload_id = await blob_store.create_multipart("raw/resumed.mp4")
    uploaded = [await blob_store.upload_part("raw/resumed.mp4", upload_id, number, piece)
                for number, piece in enumerate(pieces, start=1)]
    await blob_store.close()
    reopened = open_blob_store(blob_store.url)  # as after a restart of the process
    try:
        listed = await reopened.list_parts("raw/resumed.mp4", upload_id)
        assert listed == uploaded
        await reopened.complete_multipart("raw/resumed.mp4", upload_id, listed)
        assert _sha(await reopened.get("raw/resumed.mp4")) == _sha(b"".join(pieces))
    finally:
        await reopened.close()


async def test_reuploading_a_part_number_replaces_that_part(blob_store: BlobStore) -> None:
    upload_id = await blob_store.create_multipart("raw/retry")
    await blob_store.upload_part("raw/retry", upload_id, 1, b"first try")
    if not isinstance(blob_store, LocalBlobStore):
        # SeaweedFS lists both uploads of a part number; the adapter keeps the newer one, which
        # it can only tell apart by timestamps of one-second resolution.
        await asyncio.sleep(1.1)
    again = await blob_store.upload_part("raw/retry", upload_id, 1, b"second")
    assert await blob_store.list_parts("raw/retry", upload_id) == [again]
    await blob_store.complete_multipart("raw/retry", upload_id, [again])
    assert await blob_store.get("raw/retry") == b"second"


async def test_completing_with_a_wrong_part_list_is_refused(blob_store: BlobStore) -> None:
    upload_id = await blob_store.create_multipart("raw/bad")
    small = await blob_store.upload_part("raw/bad", upload_id, 1, b"too small to come first")
    last = await blob_store.upload_part("raw/bad", upload_id, 2, b"end")
    forged = PartInfo(number=1, size=small.size, etag="0" * 32)
    for parts in ([forged, last], [last, small], [small, last], []):
        with pytest.raises(ValueError):
            await blob_store.complete_multipart("raw/bad", upload_id, parts)
    assert await blob_store.list_parts("raw/bad", upload_id) == [small, last]
    assert not await blob_store.exists("raw/bad")
    await blob_store.abort_multipart("raw/bad", upload_id)


async def test_abort_drops_the_upload_and_its_parts(blob_store: BlobStore) -> None:
    upload_id = await blob_store.create_multipart("raw/abandoned")
    await blob_store.upload_part("raw/abandoned", upload_id, 1, _bytes(1000))
    await blob_store.abort_multipart("raw/abandoned", upload_id)
    with pytest.raises(BlobNotFound):
        await blob_store.list_parts("raw/abandoned", upload_id)
    assert not await blob_store.exists("raw/abandoned")
    assert await _keys(blob_store) == []
    await blob_store.abort_multipart("raw/abandoned", upload_id)  # twice is fine


async def test_put_file_stores_a_12_mib_file(blob_store: BlobStore, tmp_path: Path) -> None:
    data = _bytes(12 * MiB, seed=8)
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    info = await blob_store.put_file("raw/file.mp4", source, content_type="video/mp4")
    assert (info.size, info.content_type) == (len(data), "video/mp4")
    target = tmp_path / "download.bin"
    await blob_store.download("raw/file.mp4", target)
    assert _sha(target.read_bytes()) == _sha(data)


async def test_local_path_is_the_blob_file_where_the_backend_has_files(blob_store: BlobStore) -> None:
    await blob_store.put("clips/1/seg.m4s", b"segment")
    path = blob_store.local_path("clips/1/seg.m4s")
    if isinstance(blob_store, LocalBlobStore):
        assert path is not None and path.read_bytes() == b"segment"
    else:
        assert path is None


# --- adapter-specific guarantees -----------------------------------------------------------

async def test_a_reader_never_sees_a_partially_written_local_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    old = b"old" * 1000
    await store.put("clip.mp4", old)
    first_half_written = asyncio.Event()
    release = asyncio.Event()

    async def slow_upload() -> AsyncIterator[bytes]:
        yield b"n" * (6 * MiB)  # more than the write buffer, so it reaches the disk now
        first_half_written.set()
        await release.wait()
        yield b"n" * 100

    overwrite = asyncio.create_task(store.put("clip.mp4", slow_upload()))
    fresh = asyncio.create_task(store.put("fresh.mp4", _chunks(b"f" * 100)))
    await first_half_written.wait()
    await fresh
    await asyncio.sleep(0.1)
    assert any("#" in path.name for path in tmp_path.iterdir())  # the bytes are on disk…
    assert await store.get("clip.mp4") == old  # …but not where readers look
    assert (await store.stat("clip.mp4")).size == len(old)
    assert await _keys(store) == ["clip.mp4", "fresh.mp4"]
    release.set()
    await overwrite
    assert await store.get("clip.mp4") == b"n" * (6 * MiB + 100)
    assert not any("#" in path.name for path in tmp_path.iterdir())


async def test_concurrent_local_reads_see_one_whole_version_or_the_other(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    versions = [b"a" * MiB, b"b" * (2 * MiB)]
    await store.put("feed.json", versions[0])

    async def overwrite() -> None:
        for round_ in range(20):
            await store.put("feed.json", versions[round_ % 2])

    writer = asyncio.create_task(overwrite())
    while not writer.done():
        assert await store.get("feed.json") in versions
    await writer


async def test_an_s3_store_at_a_closed_port_raises_unavailable_quickly() -> None:
    store = open_blob_store(f"s3://clipfeed-down?endpoint=http://127.0.0.1:{free_port()}"
                            "&region=us-east-1&access_key=any&secret_key=any")
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable):
            await store.stat("anything")
        with pytest.raises(Unavailable):
            await store.ping()
    finally:
        await store.close()
    assert time.monotonic() - started < 3


async def test_a_local_key_cannot_be_both_a_blob_and_a_folder(tmp_path: Path) -> None:
    # A directory tree's limit (S3 allows both); callers' keys never need it.
    store = LocalBlobStore(tmp_path)
    await store.put("clips/1", b"blob")
    with pytest.raises(InvalidKey):
        await store.put("clips/1/seg.m4s", b"segment")
    await store.put("clips/2/seg.m4s", b"segment")
    with pytest.raises(InvalidKey):
        await store.put("clips/2", b"blob")
    assert await _keys(store) == ["clips/1", "clips/2/seg.m4s"]
