"""A Redis node's client as the cache uses it (``redis.py``): every command and pipeline through
the node's circuit breaker, broken connections retried for the calls whose repeat changes
nothing, a call that met an outage run once more on the ring without the failing node, and
redis-py's exceptions turned into the cache port's."""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from clipfeed.core.errors import Unavailable
from clipfeed.infra.breaker import BREAKERS, Breaker, BreakerOpen
from clipfeed.infra.cache.failover import REROUTING

_P = ParamSpec("_P")
_T = TypeVar("_T")

# A broken connection (the server closed a pooled one, a restart) is tried again twice, for the
# calls marked ``repeatable`` only: at once (a new connection), then after a short jittered
# pause; more would only delay declaring an outage. Timeouts are not retried: the breaker, not
# a longer wait, handles a server that stopped answering.
AGAIN = Retry(EqualJitterBackoff(cap=0.2, base=0.01), 1, supported_errors=(RedisConnectionError,))


async def no_cleanup(_error: Exception) -> None:
    return None  # redis-py already dropped the broken connection


class PoolBusy(RedisConnectionError):
    """Every connection of this process's pool to a node stayed in use for the whole wait: the
    process's own backlog (a burst, a stalled event loop), not a sign that the node is down. It
    fails the call but does not count against the node's breaker, is not retried, and does not
    move the call to another node of the ring."""


class QueuedPool(BlockingConnectionPool):
    """The blocking pool, telling a wait for a free connection that ran out (``PoolBusy``) from
    a connection that could not be made."""

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().get_connection(*args, **kwargs)
        except RedisConnectionError as err:
            if isinstance(err.__cause__, asyncio.TimeoutError):  # redis-py's "No connection available."
                raise PoolBusy(f"every connection to the node is in use: {err}") from err
            raise


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError) and not isinstance(exc, PoolBusy)


class GuardedPipeline(Pipeline):
    breaker: Breaker

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        self.breaker.allow()
        try:
            answers = await super().execute(raise_on_error)
        except BaseException as exc:
            self.breaker.ended(exc, is_outage)
            raise
        self.breaker.succeeded()
        return answers


class GuardedRedis(Redis):
    """A node's client whose every command and pipeline goes through the node's breaker."""

    breaker: Breaker

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        # ``Breaker.guard`` inlined: this runs for every command, and a generator-based context
        # manager costs more than the rest of the bookkeeping.
        self.breaker.allow()
        try:
            answer = await super().execute_command(*args, **options)
        except BaseException as exc:
            self.breaker.ended(exc, is_outage)
            raise
        self.breaker.succeeded()
        return answer

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = GuardedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.breaker = self.breaker
        return pipe


def translated(method: Callable[_P, Coroutine[Any, Any, _T]] | None = None, *,
                repeatable: bool = False, reroute: bool = True) -> Any:
    """Turn redis-py exceptions into the port's: outages (an open breaker too) become
    ``Unavailable``, a command on a key of another type ``TypeError``, any other refused
    command ``ValueError``. ``repeatable``: running the call twice has the effect and the
    answer of running it once, so a broken connection is retried. ``reroute``: with several
    nodes, a call that met an outage runs once more on the ring without the failing nodes
    (``failover.REROUTING``): its keys live on one node, so nothing of it was written elsewhere."""

    def decorate(method: Callable[_P, Coroutine[Any, Any, _T]]) -> Callable[_P, Coroutine[Any, Any, _T]]:
        async def attempt(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            if not repeatable:
                return await method(*args, **kwargs)
            try:
                return await method(*args, **kwargs)
            except PoolBusy:
                raise  # waiting again would only lengthen the backlog
            except RedisConnectionError:  # the usual case needs no retry bookkeeping
                return await AGAIN.call_with_retry(lambda: method(*args, **kwargs), no_cleanup)

        async def rerouted(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            try:
                return await attempt(*args, **kwargs)
            except (RedisError, OSError, BreakerOpen) as err:
                if (not reroute or not is_outage(err) and not isinstance(err, BreakerOpen)
                        or len(getattr(args[0], "_nodes", ())) < 2 or REROUTING.get()):
                    raise
            token = REROUTING.set(True)
            try:
                return await attempt(*args, **kwargs)
            finally:
                REROUTING.reset(token)

        @functools.wraps(method)
        async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            try:
                return await rerouted(*args, **kwargs)
            except ResponseError as err:
                if "WRONGTYPE" in str(err):
                    raise TypeError(str(err)) from err
                raise ValueError(f"redis refused the command: {err}") from err
            except BreakerOpen as err:
                raise Unavailable(f"cache unreachable: {err}",
                                  retry_after=max(1, math.ceil(err.breaker.retry_in_s()))) from err
            except PoolBusy as err:
                raise Unavailable(f"cache busy: {err}", retry_after=1) from err
            except (RedisError, OSError) as err:
                raise Unavailable(f"cache unreachable: {err}") from err

        return wrapper

    return decorate if method is None else decorate(method)


def to_ms(ttl: float) -> int:
    if ttl <= 0:
        raise ValueError("a TTL must be positive")
    return max(1, math.ceil(ttl * 1000))


def split_url(url: str) -> tuple[str, str, str]:
    """``(connection URL without our options, ring name without credentials, key prefix)``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = "".join(value for name, value in query if name == "prefix")
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    host = parts.netloc.rsplit("@", 1)[-1]
    return (urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")),
            f"{parts.scheme}://{host}{parts.path or '/0'}", prefix)


def breaker_of(node: Redis, name: str) -> Breaker:
    found = getattr(node, "breaker", None)
    return found if isinstance(found, Breaker) else BREAKERS.get("redis", name)


def glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


async def empty(node: Redis, prefix: str) -> None:
    """Drop every key of the cache's namespace on one node. Without a namespace the cache owns
    the node's database: ``FLUSHDB`` (not ``FLUSHALL``, which would also wipe the server's other
    databases, maybe someone else's), asynchronous so that a large one does not stall the node
    (the keys are gone at once; their memory is freed in the background)."""
    if not prefix:
        await node.flushdb(asynchronous=True)
        return
    batch: list[bytes] = []
    async for name in node.scan_iter(match=glob_escape(prefix) + "*", count=1000):
        batch.append(name)
        if len(batch) >= 1000:
            await node.unlink(*batch)
            batch.clear()
    if batch:
        await node.unlink(*batch)


async def rejoin(node: Redis, prefix: str) -> None:
    """Empty a node of the ring that was out, before it serves again (``failover``: why). The
    ping goes first, as the breaker's trial: what the node had taken in before it stopped
    answering (a write sent just before a pause) runs before it answers the ping, so not after
    the emptying."""
    await node.ping()
    await empty(node, prefix)


async def drop_copies(nodes: Mapping[str, Redis], owner: str, names: Sequence[str]) -> None:
    """Delete ``names`` (keys of ``owner``) on every other node, as far as each answers: one
    that does not keeps them until their own TTL."""
    for start in range(0, len(names), 1000):
        batch = names[start:start + 1000]
        await asyncio.gather(*(node.unlink(*batch) for name, node in nodes.items() if name != owner),
                             return_exceptions=True)
