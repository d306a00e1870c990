"""Redis cache: one server, or several standalone servers with keys spread by consistent hashing.

``redis://host:6379/0`` names one node; ``redis://a:6379/0,redis://b:6379/0`` names several, and
each key lives on the node the ring picks (``ring.py`` says why the ring is ours). Every key
touches one node, so single-key commands need no coordination; multi-key reads and writes are
split by node and sent as one pipeline per node, all nodes at once. ``?prefix=`` puts every key
under a namespace, and ``flush`` then removes that namespace only.

Timeouts are short and retries few: a cache that does not answer within a couple of seconds is
treated as down (``Unavailable``) rather than holding requests hostage. Each node has a circuit
breaker (``clipfeed.infra.breaker``): after a few failures in a row the node is out of the
ring and its keys are served by the others until it answers again and has been emptied of
what it held before (``failover.py``); a single node's calls then fail at once. Only calls
whose repeat changes nothing (reads, ``set``, ``hset``, ``zadd``, ``expire``...) are retried
after a broken connection; counters, ``add`` and ``write_many`` are not, since the first
attempt may have been applied.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from clipfeed.infra.breaker import BREAKERS, Breakers
from clipfeed.infra.cache import Read, Write, check_reads, check_writes
from clipfeed.infra.cache.failover import LiveRing, capped
from clipfeed.infra.cache.redis_node import (
    GuardedRedis,
    QueuedPool,
    breaker_of,
    drop_copies,
    empty,
    rejoin,
    split_url,
    to_ms,
    translated,
)

# Runs a data-structure command and, only if the key did not exist before, gives it a TTL:
# "ttl applies when the key is created" in one round trip, atomically, on Redis 6.2 and later
# (``EXPIRE … NX`` would need 7.0 and also touches existing keys that have no TTL).
_CREATE_WITH_TTL = """
local created = redis.call('EXISTS', KEYS[1]) == 0
local result = redis.call(ARGV[1], KEYS[1], unpack(ARGV, 3))
if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return result
"""

# Compare and set (``Cache.set_if``): SET only if the value starts with ARGV[1]; ARGV[3] is the
# TTL in milliseconds (0 for none). GETRANGE of a missing key is empty, so it never matches.
_SET_IF = """
local prefix = ARGV[1]
if redis.call('GETRANGE', KEYS[1], 0, string.len(prefix) - 1) ~= prefix then return 0 end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
"""

# Adds to several fields of one hash (``HINCRBYFLOAT`` each, new values returned in order) and
# gives the hash a TTL if it did not exist (ARGV[1]: milliseconds, 0 for none).
_HINCR_FIELDS = """
local created = redis.call('EXISTS', KEYS[1]) == 0
local out = {}
for i = 2, #ARGV, 2 do
  out[#out + 1] = redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
end
if created and tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return out
"""

# Every field of many hashes in one call (a flat field/value list per key): a build reads the
# counters of a few hundred clips, and one script call costs the client one command to pack
# and one reply to parse instead of one of each per hash (measured: a feed build's Redis
# client time fell by about a third).
_HGETALL_MANY = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGETALL', KEYS[i]) end
return out
"""

# Bit commands with the offsets in one argument (decimal, comma-separated) and the bits back
# as one string of "0"/"1": a page's seen-set claim has 100 offsets, and as BITFIELD arguments
# (four per offset) redis-py spent about a tenth of a re-ranked page's CPU packing them.
# ARGV[1]: "SET" or "GET"; ARGV[2]: the offsets; ARGV[3]: a new bitmap's TTL in ms (0: none).
# BITFIELD is sent every 1,000 offsets (Lua's unpack takes a few thousand values at most); the
# script as a whole is still atomic.
_BITS = """
local created = ARGV[1] == 'SET' and tonumber(ARGV[3]) > 0 and redis.call('EXISTS', KEYS[1]) == 0
local out, ops, count = {}, {}, 0
local function send()
  for _, bit in ipairs(redis.call('BITFIELD', KEYS[1], unpack(ops))) do out[#out + 1] = bit end
  ops, count = {}, 0
end
for offset in string.gmatch(ARGV[2], '%d+') do
  ops[#ops + 1] = ARGV[1]; ops[#ops + 1] = 'u1'; ops[#ops + 1] = offset
  if ARGV[1] == 'SET' then ops[#ops + 1] = 1 end
  count = count + 1
  if count == 1000 then send() end
end
if count > 0 then send() end
if created then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return table.concat(out)
"""


def _packed_offsets(offsets: Sequence[int]) -> str:
    # Redis caps a bitmap at 2**32 bits and refuses negative offsets (the script's pattern
    # would read "-1" as 1, so they are refused here, as the in-process cache refuses them).
    if min(offsets) < 0 or max(offsets) >= 2**32:
        raise ValueError("bit offsets must be within 0 .. 2**32 - 1")
    return ",".join(map(str, offsets))


class RedisCache:
    def __init__(self, nodes: Mapping[str, Redis], *, prefix: str = "", url: str = "") -> None:
        if not nodes:
            raise ValueError("at least one Redis node is needed")
        self.url = url
        self.prefix = prefix
        self._nodes = dict(nodes)
        self._ring = LiveRing({name: breaker_of(node, name) for name, node in self._nodes.items()},
                              lambda name: rejoin(self._nodes[name], prefix),
                              lambda name, keys: drop_copies(self._nodes, name, [prefix + key for key in keys]))
        self._only = next(iter(self._nodes.values())) if len(self._nodes) == 1 else None
        self._script = next(iter(self._nodes.values())).register_script(_CREATE_WITH_TTL)
        self._hincr_fields = next(iter(self._nodes.values())).register_script(_HINCR_FIELDS)
        self._hgetall_many = next(iter(self._nodes.values())).register_script(_HGETALL_MANY)
        self._bits = next(iter(self._nodes.values())).register_script(_BITS)
        self._set_if = next(iter(self._nodes.values())).register_script(_SET_IF)

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 2.0, max_connections: int = 64,
                 breakers: Breakers = BREAKERS) -> RedisCache:
        """``breakers``: the process's (tests give another to play a second process)."""
        nodes: dict[str, Redis] = {}
        prefixes = set()
        for part in filter(None, (piece.strip() for piece in url.split(","))):
            connect_url, name, prefix = split_url(part)
            prefixes.add(prefix)
            # A blocking pool makes a burst of callers wait for a connection instead of failing
            # or opening thousands of sockets. Every command has the socket timeout (the URL's
            # ``socket_timeout=``/``socket_connect_timeout=`` override these). redis-py's own
            # retries are off: it would repeat every command, an INCR whose reply was lost
            # included; ``translated`` repeats the calls that may be repeated.
            pool = QueuedPool.from_url(
                connect_url, max_connections=max_connections, timeout=timeout,
                socket_connect_timeout=timeout / 2, socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0))
            node = cast(GuardedRedis, GuardedRedis.from_pool(pool))
            node.breaker = breakers.get("redis", name)
            nodes[name] = node
        if len(prefixes) > 1:
            raise ValueError("every node URL must name the same ?prefix=")
        return cls(nodes, prefix=prefixes.pop() if prefixes else "", url=url)

    def _node(self, key: str) -> Redis:
        if self._only is not None:
            return self._only
        return self._nodes[self._ring.node_for(key)[0]]

    def _routed(self, key: str, ttl: float | None) -> tuple[Redis, float | None]:
        """The node serving ``key`` and the TTL a write of it gets there (``failover.capped``)."""
        if self._only is not None:
            return self._only, ttl
        name, rehomed = self._ring.node_for(key, write=True)
        return self._nodes[name], capped(ttl, rehomed)

    async def _scatter(self, keys: Sequence[str],
                       send: Callable[[Redis, list[str]], Awaitable[list[Any]]]) -> list[Any]:
        """Call ``send(node, prefixed_keys)`` once per node (concurrently) and put the answers
        back in the order of ``keys``."""
        groups = self._group(keys)[0]
        names = list(groups)
        answers = await asyncio.gather(*(
            send(self._nodes[name], [self.prefix + keys[i] for i in groups[name]]) for name in names))
        out: list[Any] = [None] * len(keys)
        for name, answer in zip(names, answers, strict=True):
            for position, value in zip(groups[name], answer, strict=True):
                out[position] = value
        return out

    def _group(self, keys: Sequence[str], *, write: bool = False) -> tuple[dict[str, list[int]], set[int]]:
        if self._only is not None:
            return ({next(iter(self._nodes)): list(range(len(keys)))} if keys else {}), set()
        return self._ring.group(keys, write=write)

    async def _create_with_ttl(self, node: Redis, key: str, ttl: float, command: str, *args: Any) -> Any:
        return await self._script(keys=[self.prefix + key], args=[command, to_ms(ttl), *args], client=node)

    # --- strings ----------------------------------------------------------------------

    @translated(repeatable=True)
    async def get(self, key: str) -> bytes | None:
        value: Any = await self._node(key).get(self.prefix + key)
        return None if value is None else bytes(value)

    @translated(repeatable=True)
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []

        async def send(node: Redis, names: list[str]) -> list[Any]:
            return list(await node.mget(names))

        return await self._scatter(keys, send)

    @translated(repeatable=True)
    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        node, ttl = self._routed(key, ttl)
        await node.set(self.prefix + key, value,
                                  px=None if ttl is None else to_ms(ttl))

    @translated(repeatable=True)
    async def set_many(self, items: Mapping[str, bytes], ttl: float | None = None) -> None:
        if not items:
            return
        keys = list(items)
        groups, rehomed = self._group(keys, write=True)

        async def send(node: Redis, positions: list[int]) -> list[Any]:
            async with node.pipeline(transaction=False) as pipe:
                for i in positions:
                    lasts = capped(ttl, i in rehomed)
                    pipe.set(self.prefix + keys[i], items[keys[i]], px=None if lasts is None else to_ms(lasts))
                return list(await pipe.execute())

        await asyncio.gather(*(send(self._nodes[name], positions) for name, positions in groups.items()))

    @translated
    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        node, ttl = self._routed(key, ttl)
        return bool(await node.set(self.prefix + key, value, nx=True,
                                              px=None if ttl is None else to_ms(ttl)))

    @translated
    async def set_if(self, key: str, value: bytes, prefix: bytes | None, ttl: float | None = None) -> bool:
        if prefix is not None and not prefix:
            raise ValueError("set_if needs a non-empty prefix (or None: only if absent)")
        node, ttl = self._routed(key, ttl)
        if prefix is None:
            return bool(await node.set(self.prefix + key, value, nx=True, px=None if ttl is None else to_ms(ttl)))
        done = await self._set_if(keys=[self.prefix + key], args=[prefix, value, 0 if ttl is None else to_ms(ttl)],
                                  client=node)
        return bool(done)

    @translated(reroute=False)
    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0

        async def send(node: Redis, names: list[str]) -> list[Any]:
            # One DEL per node; its count is reported at the first key's position.
            return [await node.delete(*names)] + [0] * (len(names) - 1)

        return sum(await self._scatter(list(dict.fromkeys(keys)), send))

    @translated(reroute=False)
    async def write_many(self, writes: Sequence[Write]) -> list[Any]:
        check_writes(writes)
        if not writes:
            return []
        groups, rehomed = self._group([write.key for write in writes], write=True)
        if rehomed:
            writes = [Write(w.method, w.key, w.args, capped(w.ttl, True))
                      if i in rehomed and w.method not in ("ztrim", "zrem") else w for i, w in enumerate(writes)]

        return await self._pipelined(groups, len(writes), lambda pipe, i: self._queue(pipe, writes[i]))

    async def _pipelined(self, groups: dict[str, list[int]], count: int,
                         queue: Callable[[Pipeline, int], Awaitable[tuple[bool, Callable[[Any], Any]]]]) -> list[Any]:
        """``write_many`` and ``read_many``: one pipeline per node of ``groups`` (node name ->
        positions), each position queued by ``queue`` (whether a command went out, and how to
        shape its answer); the answers back in position order. Every command runs; the first
        error is raised afterwards."""

        async def send(node: Redis, positions: list[int]) -> list[Any]:
            async with node.pipeline(transaction=False) as pipe:
                shapes = [await queue(pipe, i) for i in positions]
                answers = iter(await pipe.execute(raise_on_error=False))
            out = []
            for queued, shape in shapes:
                answer = next(answers) if queued else None
                out.append(answer if isinstance(answer, Exception) else shape(answer))
            return out

        names = list(groups)
        answers = await asyncio.gather(*(send(self._nodes[name], groups[name]) for name in names))
        results: list[Any] = [None] * count
        for name, answer in zip(names, answers, strict=True):
            for position, value in zip(groups[name], answer, strict=True):
                results[position] = value
        errors = [value for value in results if isinstance(value, Exception)]
        if errors:
            raise errors[0]  # ``translated`` turns it into the port's error
        return results

    async def _queue(self, pipe: Pipeline, write: Write) -> tuple[bool, Callable[[Any], Any]]:
        """Queue one ``Write`` on ``pipe`` as its own method sends it; returns whether a command
        was queued and how to shape its answer (or the result, when nothing needed sending)."""
        name, args = self.prefix + write.key, write.args
        px = None if write.ttl is None else to_ms(write.ttl)

        async def scripted(milliseconds: int, command: str, *rest: Any) -> None:
            await self._script(keys=[name], args=[command, milliseconds, *rest], client=pipe)

        match write.method:
            case "set_if" if args[1] is None:
                pipe.set(name, args[0], px=px, nx=True)
                return True, bool
            case "set_if":
                await self._set_if(keys=[name], args=[args[1], args[0], 0 if px is None else px], client=pipe)
                return True, bool
            case "set" | "add":
                pipe.set(name, args[0], px=px, nx=write.method == "add")
                return True, (bool if write.method == "add" else lambda _: None)
            case "hset" | "zadd" if not args[0]:
                return False, lambda _: None
            case "hset":
                if px is None:
                    pipe.hset(name, mapping=dict(args[0]))
                else:
                    await scripted(px, "HSET", *(item for pair in args[0].items() for item in pair))
                return True, lambda _: None
            case "zadd":
                if px is None:
                    pipe.zadd(name, dict(args[0]))
                else:
                    await scripted(px, "ZADD", *(item for member, score in args[0].items()
                                             for item in (repr(float(score)), member)))
                return True, lambda _: None
            case "hincr_float":
                if px is None:
                    pipe.hincrbyfloat(name, args[0], args[1])
                else:
                    await scripted(px, "HINCRBYFLOAT", args[0], repr(float(args[1])))
                return True, float
            case "hincr_floats" if not args[0]:
                return False, lambda _: {}
            case "hincr_floats":
                amounts = args[0]
                await self._hincr_fields(keys=[name], args=self._hincr_args(amounts, write.ttl), client=pipe)
                return True, lambda found: {f: float(v) for f, v in zip(amounts, found, strict=True)}
            case "zincr":
                if px is None:
                    pipe.zincrby(name, args[1], args[0])
                else:
                    await scripted(px, "ZINCRBY", repr(float(args[1])), args[0])
                return True, float
            case "ztrim":
                pipe.zremrangebyrank(name, 0, -(args[0] + 1))
                return True, int
            case "zrem" | "sadd" if not args:
                return False, lambda _: 0
            case "zrem":
                pipe.zrem(name, *args)
                return True, int
            case _:  # sadd
                if px is None:
                    pipe.sadd(name, *args)
                else:
                    await scripted(px, "SADD", *args)
                return True, int

    @translated(repeatable=True)
    async def read_many(self, reads: Sequence[Read]) -> list[Any]:
        check_reads(reads)
        if not reads:
            return []
        groups = self._group([read.key for read in reads])[0]
        return await self._pipelined(groups, len(reads), lambda pipe, i: self._queue_read(pipe, reads[i]))

    async def _queue_read(self, pipe: Pipeline, read: Read) -> tuple[bool, Callable[[Any], Any]]:
        """Queue one ``Read`` on ``pipe`` as its own method sends it; returns whether a command
        was queued and how to shape its answer (or the result, when nothing needed sending)."""
        name = self.prefix + read.key
        match read.method:
            case "get":
                pipe.get(name)
                return True, lambda value: None if value is None else bytes(value)
            case "hgetall":
                pipe.hgetall(name)
                return True, lambda fields: {field.decode(): value for field, value in fields.items()}
            case "ztop":
                count, offset = read.args[0], (read.args[1] if len(read.args) > 1 else 0)
                if count <= 0:
                    return False, lambda _: []
                pipe.zrevrange(name, offset, offset + count - 1, withscores=True)
                return True, lambda ranked: [(member.decode(), float(score)) for member, score in ranked]
            case _:  # smembers
                pipe.smembers(name)
                return True, lambda members: {member.decode() for member in members}

    @translated
    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        node, ttl = self._routed(key, ttl)
        if ttl is None:
            return int(await node.incrby(self.prefix + key, amount))
        return int(await self._create_with_ttl(node, key, ttl, "INCRBY", amount))

    @translated
    async def incr_float(self, key: str, amount: float, ttl: float | None = None) -> float:
        node, ttl = self._routed(key, ttl)
        if ttl is None:
            return float(await node.incrbyfloat(self.prefix + key, amount))
        return float(await self._create_with_ttl(node, key, ttl, "INCRBYFLOAT", repr(float(amount))))

    @translated(repeatable=True)
    async def expire(self, key: str, ttl: float) -> bool:
        node, lasts = self._routed(key, ttl)
        ttl = ttl if lasts is None else lasts
        # A non-positive TTL deletes the key, as PEXPIRE does.
        ms = to_ms(ttl) if ttl > 0 else 0
        return bool(await node.pexpire(self.prefix + key, ms))

    @translated(repeatable=True)
    async def ttl(self, key: str) -> float | None:
        left = int(await self._node(key).pttl(self.prefix + key))
        return None if left < 0 else left / 1000

    # --- hashes -----------------------------------------------------------------------

    @translated(repeatable=True)
    async def hgetall(self, key: str) -> dict[str, bytes]:
        fields: Any = await self._node(key).hgetall(self.prefix + key)
        return {field.decode(): value for field, value in fields.items()}

    @translated(repeatable=True)
    async def hget_many(self, keys: Sequence[str]) -> list[dict[str, bytes]]:
        if not keys:
            return []

        async def send(node: Redis, names: list[str]) -> list[Any]:
            out: list[Any] = []
            for start in range(0, len(names), 1000):  # a script runs alone: keep each one short
                out += await self._hgetall_many(keys=names[start:start + 1000], client=node)
            return out

        found = await self._scatter(keys, send)
        return [{flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)} for flat in found]

    @translated(repeatable=True)
    async def hset(self, key: str, mapping: Mapping[str, bytes], ttl: float | None = None) -> None:
        if not mapping:
            return
        node, ttl = self._routed(key, ttl)
        if ttl is None:
            await node.hset(self.prefix + key, mapping=dict[Any, Any](mapping))
        else:
            await self._create_with_ttl(node, key, ttl, "HSET",
                                        *(item for pair in mapping.items() for item in pair))

    @translated
    async def hincr_float(self, key: str, field: str, amount: float,
                          ttl: float | None = None) -> float:
        node, ttl = self._routed(key, ttl)
        if ttl is None:
            return float(await node.hincrbyfloat(self.prefix + key, field, amount))
        return float(await self._create_with_ttl(node, key, ttl, "HINCRBYFLOAT", field, repr(float(amount))))

    @translated
    async def hincr_floats(self, key: str, amounts: Mapping[str, float],
                           ttl: float | None = None) -> dict[str, float]:
        if not amounts:
            return {}
        node, ttl = self._routed(key, ttl)
        found = await self._hincr_fields(keys=[self.prefix + key], args=self._hincr_args(amounts, ttl),
                                         client=node)
        return {field: float(value) for field, value in zip(amounts, found, strict=True)}

    @staticmethod
    def _hincr_args(amounts: Mapping[str, float], ttl: float | None) -> list[Any]:
        return [0 if ttl is None else to_ms(ttl),
                *(item for field, amount in amounts.items() for item in (field, repr(float(amount))))]

    # --- sorted sets ------------------------------------------------------------------

    @translated
    async def zincr(self, key: str, member: str, amount: float, ttl: float | None = None) -> float:
        node, ttl = self._routed(key, ttl)
        if ttl is None:
            score: Any = await node.zincrby(self.prefix + key, amount, member)
            return float(score)
        return float(await self._create_with_ttl(node, key, ttl, "ZINCRBY", repr(float(amount)), member))

    @translated(repeatable=True)
    async def zadd(self, key: str, scores: Mapping[str, float], ttl: float | None = None) -> None:
        if not scores:
            return
        node, ttl = self._routed(key, ttl)
        if ttl is None:
            await node.zadd(self.prefix + key, dict(scores))
        else:
            await self._create_with_ttl(node, key, ttl, "ZADD", *(
                item for member, score in scores.items() for item in (repr(float(score)), member)))

    @translated(repeatable=True)
    async def ztop(self, key: str, count: int, *, offset: int = 0) -> list[tuple[str, float]]:
        if count <= 0:
            return []
        # ZREVRANGE orders equal scores by member, byte-wise descending: the memory adapter too.
        ranked: Any = await self._node(key).zrevrange(self.prefix + key, offset, offset + count - 1,
                                                 withscores=True)
        return [(member.decode(), float(score)) for member, score in ranked]

    @translated(repeatable=True)
    async def zscore(self, key: str, member: str) -> float | None:
        score: Any = await self._node(key).zscore(self.prefix + key, member)
        return None if score is None else float(score)

    @translated
    async def zrem(self, key: str, *members: str) -> int:
        return int(await self._node(key).zrem(self.prefix + key, *members)) if members else 0

    @translated(repeatable=True)
    async def zcard(self, key: str) -> int:
        return int(await self._node(key).zcard(self.prefix + key))

    @translated
    async def ztrim(self, key: str, keep: int) -> int:
        if keep < 0:
            raise ValueError("keep must not be negative")
        # Ranks count from the lowest score: drop all but the last ``keep``.
        return int(await self._node(key).zremrangebyrank(self.prefix + key, 0, -(keep + 1)))

    # --- sets -------------------------------------------------------------------------

    @translated
    async def sadd(self, key: str, *members: str, ttl: float | None = None) -> int:
        if not members:
            return 0
        node, ttl = self._routed(key, ttl)
        if ttl is None:
            return int(await node.sadd(self.prefix + key, *members))
        return int(await self._create_with_ttl(node, key, ttl, "SADD", *members))

    @translated(repeatable=True)
    async def smembers(self, key: str) -> builtins.set[str]:
        members: Any = await self._node(key).smembers(self.prefix + key)
        return {member.decode() for member in members}

    @translated(repeatable=True)
    async def sismember_many(self, key: str, members: Sequence[str]) -> list[bool]:
        if not members:
            return []
        found = await self._node(key).smismember(self.prefix + key, list(members))
        return [bool(flag) for flag in found]

    # --- bit arrays -------------------------------------------------------------------

    @translated
    async def setbits(self, key: str, offsets: Sequence[int], ttl: float | None = None) -> list[bool]:
        if not offsets:
            return []
        packed = _packed_offsets(offsets)
        node, ttl = self._routed(key, ttl)
        # One BITFIELD with a SET per offset, inside the script: atomic, one round trip.
        found = await self._bits(keys=[self.prefix + key], args=["SET", packed, 0 if ttl is None else to_ms(ttl)],
                                 client=node)
        return [bit == 49 for bit in found]  # b"1"

    @translated(repeatable=True)
    async def getbits(self, key: str, offsets: Sequence[int]) -> list[bool]:
        if not offsets:
            return []
        # BITFIELD_RO would let replicas answer, but needs Redis 6.2; plain GETs are read-only too.
        found = await self._bits(keys=[self.prefix + key], args=["GET", _packed_offsets(offsets), 0],
                                 client=self._node(key))
        return [bit == 49 for bit in found]

    # --- lifecycle --------------------------------------------------------------------

    @translated(repeatable=True, reroute=False)
    async def ping(self) -> None:
        """Raise only when no node answers: with one out of the ring, the others serve its keys."""
        answers = await asyncio.gather(*(node.ping() for node in self._nodes.values()), return_exceptions=True)
        failures = [answer for answer in answers if isinstance(answer, BaseException)]
        if len(failures) == len(answers) or any(not isinstance(f, Exception) for f in failures):
            raise failures[0]

    @translated(repeatable=True, reroute=False)
    async def flush(self) -> None:
        await asyncio.gather(*(empty(node, self.prefix) for node in self._nodes.values()))

    async def close(self) -> None:
        await self._ring.close()
        for node in self._nodes.values():
            # Closing a cache that is already gone is not worth an error.
            with contextlib.suppress(RedisError, OSError):
                await node.aclose()
