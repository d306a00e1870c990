"""Object store on the S3 API: ``s3://bucket/optional/prefix?endpoint=http://host:8333&region=…``.

Works with AWS S3 and S3-compatible servers (SeaweedFS in tests). Credentials come from
``access_key``/``secret_key`` in the URL, else from boto3's usual chain (environment, config
files, instance roles). boto3 is synchronous, so every call runs in a worker thread; its
client is thread-safe. The bucket is created on first use if missing.

Timeouts are short (``?connect_timeout=``/``?read_timeout=`` in the URL change them) and
botocore retries throttling, 5xx answers and timeouts with jittered exponential back-off: a
dead endpoint surfaces as ``Unavailable`` in a second or two instead of stalling a request for
a minute. The endpoint has a circuit breaker (``clipfeed.infra.breaker``): after a few failed
calls in a row, calls fail at once until a trial call gets through.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError as Urllib3Error

from clipfeed.core.errors import Unavailable
from clipfeed.infra.blobs import BlobInfo, BlobNotFound, PartInfo, check_key
from clipfeed.infra.breaker import BREAKERS, BreakerOpen

_T = TypeVar("_T")

MAX_PART_NUMBER = 10_000
PART_SIZE = 8 * 1024 * 1024  # S3's minimum is 5 MiB; 8 MiB matches boto3's transfer default
_TRANSFER = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE,
                           max_concurrency=4)
_MISSING = {"NoSuchKey", "NoSuchUpload", "NotFound", "404"}
_REFUSED = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "InvalidArgument", "InvalidRequest"}
_VENDOR_ERRORS = (ClientError, BotoCoreError, Boto3Error, Urllib3Error, OSError)


class _RangeNotSatisfiable(ValueError):
    pass


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _translate(err: Exception, what: str) -> Exception:
    """The port's exception for a boto3/botocore one."""
    if isinstance(err, ClientError):
        code = _code(err)
        if code in _MISSING:
            return BlobNotFound(what)
        if code == "InvalidRange":
            return _RangeNotSatisfiable(what)
        if code in _REFUSED:
            return ValueError(f"S3 refused {what}: {err}")
    return Unavailable(f"object store unreachable ({what}): {err}")


def _etag(raw: str) -> str:
    return raw.strip('"')


class S3BlobStore:
    def __init__(self, client: Any, bucket: str, *, prefix: str = "", region: str | None = None,
                 url: str = "", endpoint: str | None = None) -> None:
        self._client = client
        # One breaker per endpoint (not per bucket): every bucket there is down together.
        self.breaker = BREAKERS.get("s3", endpoint or f"aws:{region or 'default'}")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.region = region
        self.url = url
        self._bucket_ready = False
        self._bucket_lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, connect_timeout: float = 2.0, read_timeout: float = 10.0) -> S3BlobStore:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an S3 URL: {url!r} (use s3://bucket/prefix?endpoint=…)")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        endpoint = query.get("endpoint")
        config = Config(
            connect_timeout=float(query.get("connect_timeout", connect_timeout)),
            read_timeout=float(query.get("read_timeout", read_timeout)),
            # Every call has the connect and read timeouts above. Object reads, writes and
            # deletes are idempotent, so throttling, 5xx and timeouts are retried with
            # botocore's jittered exponential back-off ("standard" mode), up to 4 attempts.
            retries={"total_max_attempts": 4, "mode": "standard"},
            max_pool_connections=32,
            # Servers other than AWS usually want path-style URLs, and some reject the CRC
            # checksums recent botocore adds to every request unless told not to.
            s3={"addressing_style": "path" if endpoint else "auto"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session()
        client = session.client(
            "s3", endpoint_url=endpoint, region_name=query.get("region"), config=config,
            aws_access_key_id=query.get("access_key"), aws_secret_access_key=query.get("secret_key"))
        return cls(client, parts.netloc, prefix=parts.path, region=query.get("region"), url=url,
                   endpoint=endpoint)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def _call(self, what: str, call: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """Run a blocking boto3 call in a thread through the endpoint's breaker, with the
        port's exceptions."""
        if not self._bucket_ready:
            await self._ensure_bucket()
        return await self._guarded(what, call, *args, **kwargs)

    async def _guarded(self, what: str, call: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        try:
            async with self.breaker.guard(lambda exc: isinstance(exc, Unavailable)):
                try:
                    return await asyncio.to_thread(call, *args, **kwargs)
                except _VENDOR_ERRORS as err:
                    raise _translate(err, what) from err
        except BreakerOpen as err:
            raise Unavailable(f"object store unreachable ({what}): {err}") from err

    async def _ensure_bucket(self) -> None:
        async with self._bucket_lock:
            if self._bucket_ready:
                return
            await self._guarded(f"bucket {self.bucket}", self._create_bucket)
            self._bucket_ready = True

    def _create_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as err:
            if _code(err) not in ("404", "NoSuchBucket", "NotFound"):
                raise
        extra: dict[str, Any] = {}
        if self.region and self.region != "us-east-1":
            extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._client.create_bucket(Bucket=self.bucket, **extra)
        except ClientError as err:
            # Another process created it between our check and our create: that is success.
            if _code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _type(self, content_type: str | None) -> dict[str, str]:
        return {} if content_type is None else {"ContentType": content_type}

    # --- whole blobs ------------------------------------------------------------------

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], *,
                  content_type: str | None = None) -> BlobInfo:
        name = self._key(key)
        if isinstance(data, bytes | bytearray | memoryview):
            await self._call(key, self._client.put_object, Bucket=self.bucket, Key=name,
                             Body=bytes(data), **self._type(content_type))
            return await self.stat(key)
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[PartInfo] = []
        try:
            async for chunk in data:
                buffer += chunk
                # Parts grow with the stream so that 10,000 of them can hold any length.
                part_size = PART_SIZE * (1 + len(parts) // 1000)
                if len(buffer) >= part_size:
                    upload_id = upload_id or await self.create_multipart(key, content_type=content_type)
                    parts.append(await self.upload_part(key, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if upload_id is None:  # the whole stream fitted in one part: a plain put
                return await self.put(key, bytes(buffer), content_type=content_type)
            if buffer:
                parts.append(await self.upload_part(key, upload_id, len(parts) + 1, bytes(buffer)))
            return await self.complete_multipart(key, upload_id, parts)
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await self.abort_multipart(key, upload_id)
            raise

    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> BlobInfo:
        # boto3's transfer manager sends large files as parallel parts.
        await self._call(key, self._client.upload_file, str(path), self.bucket, self._key(key),
                         ExtraArgs=self._type(content_type), Config=_TRANSFER)
        return await self.stat(key)

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            body = self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            with contextlib.closing(body):
                return bytes(body.read())

        return await self._call(key, read)

    async def open_read(self, key: str, *, start: int = 0, end: int | None = None,
                        chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range {start}-{end}")
        extra = {}
        # A Range on an empty object is unsatisfiable, so whole reads send none.
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            response = await self._call(key, self._client.get_object, Bucket=self.bucket,
                                        Key=self._key(key), **extra)
        except _RangeNotSatisfiable:
            return  # starts past the end: nothing to read, as with a local file
        body = response["Body"]
        try:
            while chunk := await self._call(key, body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    async def download(self, key: str, path: Path) -> None:
        await self._call(key, self._client.download_file, self.bucket, self._key(key), str(path),
                         Config=_TRANSFER)

    async def stat(self, key: str) -> BlobInfo:
        head = await self._call(key, self._client.head_object, Bucket=self.bucket, Key=self._key(key))
        return BlobInfo(key=key, size=int(head["ContentLength"]), etag=_etag(head["ETag"]),
                        modified=head["LastModified"], content_type=head.get("ContentType"))

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except BlobNotFound:
            return False
        return True

    async def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        if prefix:
            check_key(prefix + "x")  # a prefix is a key cut short
        pages = iter(self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix))
        while (page := await self._call(f"list {prefix}", next, pages, None)) is not None:
            for entry in page.get("Contents", []):
                key = entry["Key"][len(self.prefix):]
                if key.endswith("/"):
                    continue  # folder markers some tools create are not blobs
                yield BlobInfo(key=key, size=int(entry["Size"]), etag=_etag(entry["ETag"]),
                               modified=entry["LastModified"])

    async def delete(self, key: str) -> None:
        await self._call(key, self._client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        batch: builtins.list[str] = []

        async def flush() -> None:
            nonlocal deleted
            answer = await self._call(f"delete {prefix}", self._client.delete_objects, Bucket=self.bucket,
                                      Delete={"Objects": [{"Key": self._key(k)} for k in batch],
                                              "Quiet": True})
            if answer.get("Errors"):
                raise Unavailable(f"object store kept {len(answer['Errors'])} blobs under {prefix!r}")
            deleted += len(batch)
            batch.clear()

        async for info in self.list(prefix):
            batch.append(info.key)
            if len(batch) == 1000:  # the most one DeleteObjects call takes
                await flush()
        if batch:
            await flush()
        return deleted

    async def copy(self, source: str, target: str) -> BlobInfo:
        # One CopyObject request: server-side, for sources up to S3's 5 GiB copy limit.
        await self._call(source, self._client.copy_object, Bucket=self.bucket, Key=self._key(target),
                         CopySource={"Bucket": self.bucket, "Key": self._key(source)})
        return await self.stat(target)

    # --- multipart uploads ------------------------------------------------------------

    async def create_multipart(self, key: str, *, content_type: str | None = None) -> str:
        answer = await self._call(key, self._client.create_multipart_upload, Bucket=self.bucket,
                                  Key=self._key(key), **self._type(content_type))
        return str(answer["UploadId"])

    async def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> PartInfo:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise ValueError(f"part numbers run from 1 to {MAX_PART_NUMBER}, not {number}")
        answer = await self._call(key, self._client.upload_part, Bucket=self.bucket, Key=self._key(key),
                                  UploadId=upload_id, PartNumber=number, Body=data)
        return PartInfo(number=number, size=len(data), etag=_etag(answer["ETag"]))

    async def list_parts(self, key: str, upload_id: str) -> builtins.list[PartInfo]:
        pages = iter(self._client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=self._key(key), UploadId=upload_id))
        newest: dict[int, tuple[Any, PartInfo]] = {}
        while (page := await self._call(key, next, pages, None)) is not None:
            for part in page.get("Parts", []):
                info = PartInfo(number=int(part["PartNumber"]), size=int(part["Size"]),
                                etag=_etag(part["ETag"]))
                # SeaweedFS lists a re-uploaded part number twice; S3 keeps only the last upload.
                seen = newest.get(info.number)
                if seen is None or part["LastModified"] >= seen[0]:
                    newest[info.number] = (part["LastModified"], info)
        return [newest[number][1] for number in sorted(newest)]

    async def complete_multipart(self, key: str, upload_id: str,
                                 parts: Sequence[PartInfo]) -> BlobInfo:
        if not parts:
            raise ValueError("a multipart upload needs at least one part")
        listed = [{"PartNumber": part.number, "ETag": f'"{part.etag}"'} for part in parts]
        await self._call(key, self._client.complete_multipart_upload, Bucket=self.bucket,
                         Key=self._key(key), UploadId=upload_id, MultipartUpload={"Parts": listed})
        return await self.stat(key)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(BlobNotFound):  # already gone: aborting is idempotent
            await self._call(key, self._client.abort_multipart_upload, Bucket=self.bucket,
                             Key=self._key(key), UploadId=upload_id)

    def local_path(self, key: str) -> Path | None:
        return None

    async def ping(self) -> None:
        await self._call("ping", self._client.head_bucket, Bucket=self.bucket)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
