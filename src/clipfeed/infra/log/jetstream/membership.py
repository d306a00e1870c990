"""A partitioned group's membership document in a JetStream KV bucket, changed by
compare-and-set so concurrent members never overwrite each other's changes."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue

from clipfeed.core.errors import Unavailable
from clipfeed.infra.log.membership import Membership

# Documents of groups nobody has touched for this long are dropped by the bucket.
MEMBERSHIP_TTL_S = 24 * 3600.0
CAS_ATTEMPTS = 20


class KvMembership:
    def __init__(self, kv: KeyValue, bucket: str, key: str) -> None:
        self._kv = kv
        self._subject = f"$KV.{bucket}.{key}"
        self._key = key

    @classmethod
    async def open(cls, js: JetStreamContext, bucket: str, key: str) -> KvMembership:
        try:
            kv = await js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            with contextlib.suppress(nats.js.errors.BadRequestError):  # created meanwhile
                await js.create_key_value(api.KeyValueConfig(
                    bucket=bucket, history=1, ttl=MEMBERSHIP_TTL_S, storage=api.StorageType.FILE))
            kv = await js.key_value(bucket)
        return cls(kv, bucket, key)

    async def read(self) -> Membership:
        try:
            return Membership.from_json((await self._kv.get(self._key)).value)
        except nats.js.errors.KeyNotFoundError:
            return Membership()

    async def change(self, change: Callable[[Membership], None]) -> Membership:
        """Apply ``change`` to the latest document and store it, retrying when another member
        stored a newer one in between."""
        for _ in range(CAS_ATTEMPTS):
            try:
                entry = await self._kv.get(self._key)
                state, revision = Membership.from_json(entry.value), entry.revision
            except nats.js.errors.KeyNotFoundError:
                state, revision = Membership(), None
            change(state)
            try:
                if revision is None:
                    await self._kv.create(self._key, state.to_json())
                else:
                    await self._kv.update(self._key, state.to_json(), last=revision)
                return state
            except nats.js.errors.KeyWrongLastSequenceError:
                await asyncio.sleep(random.uniform(0.005, 0.05))  # another member won the race
        raise Unavailable(f"membership {self._key}: kept changing under us")

    async def watch(self, nc: Client, on_change: Callable[[Membership], None]) -> Subscription:
        """Call ``on_change`` with every new version: each KV put is also an ordinary message
        on the key's subject, so a plain subscription sees it without a JetStream consumer."""

        async def deliver(msg: Msg) -> None:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                on_change(Membership.from_json(msg.data))

        return await nc.subscribe(self._subject, cb=deliver)
