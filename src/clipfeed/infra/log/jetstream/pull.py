"""Pull requests to one JetStream consumer, with waits we control.

nats-py's ``PullSubscription.fetch`` keeps a pull request for N messages open until it expires
even after the first message arrived, so ``fetch(timeout=1)`` would nearly always take the whole
second. Here a waiting pull asks for one message only, and once it arrives the rest of the batch
is taken with a ``no_wait`` request that returns at once. Each request has its own reply subject;
messages that arrive after we stopped waiting are kept and handed out next time rather than
left to time out.

A ``no_wait`` request carries no expiry: given one, the server treats it as a pull that waits up
to that expiry for a first message, so every empty partition asked "what is there now" would
cost the whole expiry (it did: 200 ms per empty partition on every fetch, a large part of the
stream's lag on JetStream). Without one the server answers at once (the messages there, then a
status), except when the consumer is at ``max_ack_pending``: then it holds the request until acks
make room, so we stop waiting once the server has been silent for ``NO_WAIT_SILENCE_S``, and what
that request delivers later is kept for the next pull like any late message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

# Extra time over a request's own expiry before we stop waiting for the server's answer.
NETWORK_MARGIN_S = 2.0
# How long a no_wait request may go without an answer (a message or its final status) before we
# stop waiting for it: it normally ends within a round trip; the server holds it only when the
# consumer is at max_ack_pending.
NO_WAIT_SILENCE_S = 0.25
# Status codes that end a pull request: no messages, request expired, consumer gone/changed.
_DONE = {"404", "408", "409"}


class Puller:
    def __init__(self, nc: Client, stream: str, consumer: str) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._ids = itertools.count()
        self._requests: dict[str, asyncio.Queue[Msg]] = {}
        self._leftovers: deque[Msg] = deque()
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_msg)

    async def stop(self) -> list[Msg]:
        """Stop listening; returns messages delivered but never handed out (to nak them)."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        leftovers, self._leftovers = list(self._leftovers), deque()
        return leftovers

    async def pull(self, batch: int, *, wait: float) -> list[Msg]:
        """Up to ``batch`` messages; waits up to ``wait`` seconds only when none is available.
        Cancelled (or failed) half-way, it keeps what it already took for the next pull: a
        message taken and then dropped would only come back after the consumer's ack wait."""
        out: list[Msg] = []
        try:
            while self._leftovers and len(out) < batch:
                out.append(self._leftovers.popleft())
            if len(out) < batch:
                out += await self._request(batch - len(out), expires=None)
            if out or wait <= 0:
                return out
            out = await self._request(1, expires=wait)
            if out and batch > 1:
                out += await self._request(batch - 1, expires=None)
            return out
        except BaseException:
            self.give_back(out)
            raise

    def give_back(self, msgs: list[Msg]) -> None:
        """Messages handed out but not used: first in line for the next pull."""
        self._leftovers.extendleft(reversed(msgs))

    async def _request(self, batch: int, *, expires: float | None) -> list[Msg]:
        request_id = str(next(self._ids))
        replies: asyncio.Queue[Msg] = asyncio.Queue()
        self._requests[request_id] = replies
        body: dict[str, object] = ({"batch": batch, "no_wait": True} if expires is None
                                   else {"batch": batch, "expires": int(expires * 1e9)})
        out: list[Msg] = []
        handed_out = False
        try:
            await self._nc.publish(self._next_subject, json.dumps(body).encode(),
                                   reply=f"{self._inbox}.{request_id}")
            loop = asyncio.get_running_loop()
            give_up = loop.time() + (NO_WAIT_SILENCE_S if expires is None else expires + NETWORK_MARGIN_S)
            while len(out) < batch:
                if replies.empty():
                    # Suspend only when nothing is queued: a wait per message would cost one turn
                    # of the event loop each, seconds per batch on a busy worker.
                    msg = await asyncio.wait_for(replies.get(), max(0.0, give_up - loop.time()))
                else:
                    msg = replies.get_nowait()
                if expires is None:
                    give_up = loop.time() + NO_WAIT_SILENCE_S
                status = msg.headers.get("Status") if msg.headers else None
                if status is None:
                    out.append(msg)
                elif status in _DONE:
                    break
                # anything else (100 heartbeats) is informational
            handed_out = True
        except TimeoutError:
            if not self._nc.is_connected:
                raise
            handed_out = True
        finally:
            del self._requests[request_id]
            if not handed_out:  # cancelled or failed: keep what already arrived for next time
                self._leftovers.extend(out)
            while not replies.empty():
                late = replies.get_nowait()
                if not (late.headers and late.headers.get("Status")):
                    self._leftovers.append(late)
        return out

    async def _on_msg(self, msg: Msg) -> None:
        if msg.headers and msg.headers.get("Status"):
            # Status replies come on the request's own reply subject: they end that request only.
            replies = self._requests.get(msg.subject.rsplit(".", 1)[-1])
            if replies is not None:
                replies.put_nowait(msg)
            return
        # Stream messages keep their own subject, so they cannot be told apart by request; any
        # open request of this consumer may take them.
        if self._requests:
            next(iter(self._requests.values())).put_nowait(msg)
        else:
            self._leftovers.append(msg)
