"""Inbox: a mailbox for code that is not an agent (a script, a test, a thread).

It is a process in its own right: it has a ref that agents can send to, it
can link to and monitor agents, and it always traps exits (exit signals
arrive as ``Exit`` messages). ``receive`` takes the first message that
matches, leaving the others queued (Erlang's selective receive).

    with Inbox() as inbox:
        mref = inbox.monitor(ref)
        ref.kill()
        down = inbox.receive(match=lambda m: isinstance(m, Down))
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from otp.actor._messages import Down, Exit
from otp.actor._monitors import demonitor, monitor
from otp.actor._process import Process, new_id
from otp.actor._ref import AgentRef
from otp.errors import NOPROC, NORMAL, AskTimeout

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = ["NOTHING", "Inbox"]


class _InboxProcess(Process):
    __slots__ = ("cond", "queue", "waiters")

    def __init__(self) -> None:
        super().__init__(new_id())
        self.cond = threading.Condition()
        self.queue: deque[tuple[Any, Any]] = deque()
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.ref = AgentRef(self, "Inbox")

    def put(self, envelope: tuple[Any, Any]) -> None:
        with self.cond:
            self.queue.append(envelope)
            self.cond.notify_all()
            waiters, self.waiters = self.waiters, []
        for loop, waiter in waiters:  # receive_async callers: wake them on their loops
            try:
                loop.call_soon_threadsafe(_wake_waiter, waiter)
            except RuntimeError:  # that loop has closed
                pass

    def take(self, match: Callable[[Any], bool] | None) -> Any:
        """Remove and return the first matching message, or NOTHING (holding ``cond``)."""
        queue = self.queue
        while True:
            for i, (message, _future) in enumerate(queue):
                if match is None or match(message):
                    del queue[i]
                    if isinstance(message, Down) and self.is_flushed_down(message):
                        break  # a flushed DOWN: drop it and scan again
                    return message
            else:
                return NOTHING

    def take_all(self) -> list[tuple[Any, Any]]:
        with self.cond:
            items = list(self.queue)
            self.queue.clear()
            return items

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def trapping(self) -> bool:
        return True

    def request_shutdown(self, reason: Any) -> None:
        self.die(reason)


NOTHING: Any = object()


def _wake_waiter(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Inbox:
    """A mailbox for non-agent code; see the module docstring."""

    def __init__(self) -> None:
        self._proc = _InboxProcess()
        self._proc.register()

    @property
    def ref(self) -> AgentRef[Any]:
        """The inbox's ref: agents can tell it, link to it and monitor it."""
        return cast("AgentRef[Any]", self._proc.ref)

    def receive(self, timeout: float | None = 5.0,
                match: Callable[[Any], bool] | None = None) -> Any:
        """Return the first queued message for which ``match`` is true (any, by default).

        Raises:
            AskTimeout: nothing matched within ``timeout`` seconds.
        """
        proc = self._proc
        deadline = None if timeout is None else time.monotonic() + timeout
        with proc.cond:
            while True:
                message = proc.take(match)
                if message is not NOTHING:
                    return message
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    msg = f"{self.ref} received no matching message within {timeout} s"
                    raise AskTimeout(msg)
                proc.cond.wait(remaining)

    def poll(self, match: Callable[[Any], bool] | None = None) -> Any:
        """Take the first matching message if one is queued now, else return ``NOTHING``."""
        with self._proc.cond:
            return self._proc.take(match)

    async def receive_async(self, timeout: float | None = 5.0,
                            match: Callable[[Any], bool] | None = None) -> Any:
        """``receive`` for async code: waits without blocking the running loop."""
        proc = self._proc
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            with proc.cond:
                message = proc.take(match)
                if message is not NOTHING:
                    return message
                waiter: asyncio.Future[None] = loop.create_future()
                proc.waiters.append((loop, waiter))
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                msg = f"{self.ref} received no matching message within {timeout} s"
                raise AskTimeout(msg)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass  # the next pass finds nothing and raises AskTimeout

    def pending(self) -> list[Any]:
        """Return the queued messages without taking them."""
        with self._proc.cond:
            return [m for m, _f in self._proc.queue]

    def link(self, ref: AgentRef[Any]) -> None:
        """Link to ``ref``; its exit arrives as an ``Exit`` message (noproc at once if dead)."""
        proc = self._proc
        if ref._proc.link_from(proc.ref):
            proc.link_from(ref)
        else:
            proc.deliver(Exit(ref, NOPROC))

    def unlink(self, ref: AgentRef[Any]) -> None:
        """Remove the link to ``ref``."""
        self._proc.unlink_from(ref)
        ref._proc.unlink_from(self._proc.ref)

    def monitor(self, target: AgentRef[Any] | str) -> Any:
        """Monitor an agent or registered name; a ``Down`` arrives when it exits."""
        return monitor(self._proc, target)

    def demonitor(self, mref: Any, *, flush: bool = False) -> bool:
        """Stop monitoring; with ``flush=True`` no Down for ``mref`` is received afterwards."""
        return demonitor(self._proc, mref, flush=flush)

    def close(self) -> None:
        """Exit (reason normal): links are signalled, monitors get DOWN."""
        self._proc.die(NORMAL)

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
