"""The futures of asks: ``AgentFuture`` for threads, ``LoopFuture`` inside an event loop.

``AgentFuture`` (pykka's ThreadingFuture) blocks in ``get()``, 5 s by
default. ``LoopFuture`` is awaited instead: the reply may come from any
thread and is handed to the asker's loop. Ask timeouts on a loop share one
heap and one timer per loop (``_Deadlines``).
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from typing import TYPE_CHECKING, Any

import pykka
from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr

from otp.errors import AskTimeout

if TYPE_CHECKING:
    from pykka._types import OptExcInfo

__all__ = ["DEFAULT_TIMEOUT", "AgentFuture", "LoopFuture", "deadlines", "describe", "reply",
           "reply_exception"]

DEFAULT_TIMEOUT = 5.0
"""Seconds an ask, a proxy call's ``get()`` or a stop waits by default (OTP's call timeout)."""

_UNSET: Any = object()


class AgentFuture(pykka.ThreadingFuture[Any]):
    """The future of an ask: ``get()`` waits 5 s by default and names the agent on timeout."""

    def __init__(self) -> None:
        super().__init__()
        self._otp_ctx: tuple[Any, Any] | None = None  # (AgentRef, message) for errors

    def get(self, *, timeout: float | None = _UNSET) -> Any:
        """Return the reply, or raise the agent's exception, ``AgentExit`` or ``AskTimeout``.

        Args:
            timeout: seconds to wait; default 5. ``None`` waits for ever.
        """
        if timeout is _UNSET:
            timeout = DEFAULT_TIMEOUT
        try:
            return super().get(timeout=timeout)
        except pykka.Timeout:
            ref, message = self._otp_ctx or (None, None)
            what = describe(message)
            msg = (f"{ref if ref is not None else 'agent'} did not reply to {what} within "
                   f"{timeout} s; pass timeout= to wait longer")
            raise AskTimeout(msg) from None


    def __await__(self) -> Any:
        """Await from an event loop without blocking it (the wait runs in a worker thread)."""
        return asyncio.get_running_loop().run_in_executor(None, self.get).__await__()


class LoopFuture:
    """The future of an ask made inside a running asyncio loop: ``await`` it.

    Awaiting waits 5 s by default (``await fut.result(timeout=...)`` for
    another bound) and raises what ``AgentFuture.get`` would. The reply may
    come from any thread; it is handed to the asker's loop.
    """

    __slots__ = ("__weakref__", "_bucket", "_fut", "_loop", "_otp_ctx", "_tid")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._fut: asyncio.Future[Any] = loop.create_future()
        self._tid = threading.get_ident()
        self._otp_ctx: tuple[Any, Any] | None = None
        self._bucket: tuple[_Deadlines, int] | None = None  # where its timeout waits

    def set(self, value: Any = None) -> None:
        self._hand_over(value, None)

    def set_exception(self, exc_info: OptExcInfo | None = None) -> None:
        exc_type, exc, _tb = exc_info if exc_info is not None else sys.exc_info()
        self._hand_over(None, exc if exc is not None else exc_type() if exc_type else None)

    def _hand_over(self, value: Any, exc: BaseException | None) -> None:
        if threading.get_ident() == self._tid:
            self._resolve(value, exc)
        else:
            try:
                self._loop.call_soon_threadsafe(self._resolve, value, exc)
            except RuntimeError:  # the asker's loop has closed: nobody is waiting
                pass

    def _resolve(self, value: Any, exc: BaseException | None) -> None:
        fut = self._fut
        if fut.done():
            return  # answered already (a late reply after a timeout is dropped)
        bucket = self._bucket
        if bucket is not None:  # answered: it no longer waits for its deadline
            self._bucket = None
            bucket[0].discard(bucket[1], self)
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

    def get(self, *, timeout: float | None = None) -> Any:
        """Refused: waiting here would block the event loop that must deliver the reply."""
        msg = ("get() would block the event loop; use `await future` (or "
               "`await ref.ask_async(message)`) inside async code")
        raise RuntimeError(msg)

    async def result(self, timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """Wait for the reply for at most ``timeout`` seconds (None: no bound)."""
        if timeout is not None:
            deadlines(self._loop).add(timeout, self)
        return await self._fut

    def _expire(self, timeout: float) -> None:
        if not self._fut.done():
            ref, message = self._otp_ctx or (None, None)
            msg = (f"{ref if ref is not None else 'agent'} did not reply to {describe(message)} "
                   f"within {timeout} s; pass timeout= to wait longer")
            self._fut.set_exception(AskTimeout(msg))

    def __await__(self) -> Any:
        return self.result().__await__()


class _Deadlines:
    """The ask timeouts of one event loop: a young list, then buckets of 10 ms.

    Most asks are answered within microseconds, so an ask first only joins
    the ``young`` list (an append). A sweep every ``RESOLUTION`` seconds,
    armed while asks are young, drops the answered ones and files the rest
    in the bucket of their deadline; each bucket has one timer. A reply
    takes a filed ask out of its bucket at once, so nothing answered is kept
    for long. A timeout fires up to 20 ms late. (A ``call_later`` per ask,
    then its cancel, costs about 2 us; keeping answered asks until their
    deadline kept their replies alive with them.)
    """

    RESOLUTION = 0.01
    __slots__ = ("buckets", "loop", "sweeping", "young")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.young: list[tuple[LoopFuture, float]] = []
        self.sweeping = False
        self.buckets: dict[int, dict[LoopFuture, float]] = {}

    def add(self, timeout: float, future: LoopFuture) -> None:
        self.young.append((future, timeout))
        if not self.sweeping:
            self.sweeping = True
            self.loop.call_later(self.RESOLUTION, self.sweep)

    def sweep(self) -> None:
        young, self.young = self.young, []
        now, res = self.loop.time(), self.RESOLUTION
        for future, timeout in young:
            if future._fut.done():
                continue
            key = int((now + timeout) / res) + 1
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = self.buckets[key] = {}
                self.loop.call_at(key * res, self.fire, key)
            bucket[future] = timeout
            future._bucket = (self, key)
        self.sweeping = bool(self.young)
        if self.sweeping:
            self.loop.call_later(res, self.sweep)

    def discard(self, key: int, future: LoopFuture) -> None:
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.pop(future, None)

    def fire(self, key: int) -> None:
        for future, timeout in self.buckets.pop(key, {}).items():
            future._expire(timeout)


def deadlines(loop: asyncio.AbstractEventLoop) -> _Deadlines:
    found: _Deadlines | None = getattr(loop, "_otp_deadlines", None)
    if found is None:
        found = _Deadlines(loop)
        loop._otp_deadlines = found  # type: ignore[attr-defined]
    return found


def describe(message: Any) -> str:
    if isinstance(message, ProxyCall):
        return f"call of {'.'.join(message.attr_path)}()"
    if isinstance(message, ProxyGetAttr | ProxySetAttr):
        return f"attribute {'.'.join(message.attr_path)}"
    return f"a message of type {type(message).__name__}"


def reply(future: Any, value: Any) -> None:
    """Answer an ask unless it was already answered (the agent died meanwhile)."""
    try:
        future.set(value)
    except queue.Full:
        pass


def reply_exception(future: Any, exc_info: OptExcInfo) -> None:
    try:
        future.set_exception(exc_info)
    except queue.Full:
        pass
