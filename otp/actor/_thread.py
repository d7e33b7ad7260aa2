"""The thread kind: one OS thread per agent, plain blocking handlers.

The mailbox is a ``queue.SimpleQueue`` of ``(message, future)`` pairs, plus a
system lane (``sysq``) that a supervisor's shutdown request jumps the queue
through. ``async def`` handlers also work here: they run to completion on a
small event loop private to the agent's thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import TYPE_CHECKING, Any

from otp.actor import _dispatch
from otp.actor._future import reply, reply_exception
from otp.actor._messages import WAKE, Shutdown
from otp.actor._process import Process, _current, dead_letter

if TYPE_CHECKING:
    from otp.actor._ref import AgentRef

__all__ = ["ThreadProcess"]

_WAKE_ENV = (WAKE, None)


class ThreadProcess(Process):
    """Process of a thread agent."""

    kind = "thread"
    __slots__ = ("actor", "actor_class", "coro_loop", "inbox", "parent", "start_error",
                 "started", "stop_reason", "sysq")

    def __init__(self, actor: Any, proc_id: str) -> None:
        super().__init__(proc_id)
        self.actor = actor
        self.actor_class = type(actor)
        self.inbox: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self.sysq: list[Any] = []
        self.started: threading.Event | None = None
        self.start_error: BaseException | None = None
        self.stop_reason: Any = None
        self.parent: AgentRef[Any] | None = None  # the ref linked by spawn(link=...)
        self.coro_loop: asyncio.AbstractEventLoop | None = None
        self.ref = actor._otp_ref_class(self, type(actor).__name__)

    # -- Process hooks ------------------------------------------------------------
    def put(self, envelope: tuple[Any, Any]) -> None:
        self.inbox.put(envelope)

    def take_all(self) -> list[tuple[Any, Any]]:
        items = []
        get = self.inbox.get_nowait
        try:
            while True:
                items.append(get())
        except queue.Empty:
            return items

    def wake(self) -> None:
        self.inbox.put(_WAKE_ENV)

    def trapping(self) -> bool:
        return bool(self.actor.trap_exit)

    def request_shutdown(self, reason: Any) -> None:
        """System lane: the agent finishes its current message, runs terminate, exits."""
        self.sysq.append(Shutdown(reason))
        self.inbox.put(_WAKE_ENV)

    # -- starting ---------------------------------------------------------------------
    def boot(self, wait: bool, awaitable: bool = False) -> None:
        """Start the agent's thread (pykka's ThreadingActor does the thread)."""
        if wait:
            self.started = threading.Event()
        self.actor._start_actor_loop()

    def wait_started(self, timeout: float) -> bool:
        return self.started is None or self.started.wait(timeout)

    def start_done(self) -> bool:
        return self.started is None or self.started.is_set()

    def start_waiter(self) -> None:
        return None  # no loop future: an async waiter waits in a worker thread

    def main(self) -> None:
        """The agent's thread: on_start, then the loop."""
        _current.set(self)
        try:
            result = self.actor.on_start()
            if asyncio.iscoroutine(result):
                self.run_coro(result)
        except BaseException as exc:  # noqa: BLE001 - any failure is a start error
            from otp.actor._agent import start_failed

            start_failed(self, exc)
            if self.started is not None:
                self.started.set()
            return
        if self.started is not None:
            self.started.set()
        if not self.dead:
            self.run()
        if self.coro_loop is not None:
            self.coro_loop.close()

    def run_coro(self, coro: Any) -> Any:
        """Run an ``async def`` handler to completion on this thread's own loop."""
        if self.coro_loop is None:
            self.coro_loop = asyncio.new_event_loop()
        return self.coro_loop.run_until_complete(coro)

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        agent, get, sysq, step = self.actor, self.inbox.get, self.sysq, _dispatch.step
        while True:
            message, future = get()
            if sysq:
                self.finish(sysq.pop(0).reason)
                if message is not WAKE:  # taken from the queue but never handled
                    dead_letter(self.ref, message, future, queued=True)
                return
            if self.dead:
                return
            if message is WAKE:
                continue
            self.current_future = future
            try:
                result = step(agent, self, message)
                if asyncio.iscoroutine(result):
                    result = self.run_coro(result)
            except BaseException as exc:  # noqa: BLE001 - let it crash
                self.current_future = None
                self.crash(exc)
                if future is not None:  # the caller hears of it once the agent is gone
                    reply_exception(future, (type(exc), exc, exc.__traceback__))
                return
            self.current_future = None
            if result is _dispatch.STOP or result is _dispatch.PARENT_EXIT:
                self.finish(message.reason)
                if future is not None:
                    reply(future, None)
                return
            if result is _dispatch.DROP:
                continue
            if future is not None:
                reply(future, result)
            if self.stop_reason is not None:
                self.finish(self.stop_reason)
                return

    def crash(self, exc: BaseException) -> None:
        if self.dead:
            return
        _dispatch.crash_report(self, exc)
        self.terminate(exc)
        self.die(exc)

    def finish(self, reason: Any) -> None:
        if self.dead:
            return
        self.terminate(reason)
        self.die(reason)

    def terminate(self, reason: Any) -> None:
        result = _dispatch.run_terminate(self.actor, reason)
        if asyncio.iscoroutine(result):
            try:
                self.run_coro(result)
            except Exception as exc:  # noqa: BLE001 - as for a sync terminate
                _dispatch.terminate_failed(self.actor, reason, exc)
