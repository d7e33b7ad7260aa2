"""The async kind: many agents share the node's asyncio event loop.

An idle async agent has no task and no queue: it is its object, its process
cell and, once it has received a message, a ``deque``. A message schedules
the agent on the loop; ``run`` then handles messages one at a time. A plain
``def`` handler runs right there; the first ``async def`` handler moves the
agent into a task (named by the agent's id) that awaits it and keeps
draining, so an awaiting handler never blocks the loop. Once the mailbox is
empty the task ends and the agent is idle again. Kill cancels that task.

The loop, its dispatcher and the loop-lag watchdog are in ``_loop``.
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections import deque
from functools import partial
from types import CoroutineType as _CoroutineType
from typing import TYPE_CHECKING, Any

from otp.actor import _dispatch
from otp.actor._future import reply, reply_exception
from otp.actor._loop import BUDGET, node_loop
from otp.actor._messages import Shutdown
from otp.actor._process import Process, _current

_Marker = _dispatch.Marker

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from otp.actor._ref import AgentRef

__all__ = ["AsyncProcess", "node_loop"]

def _iscoroutine(obj: Any) -> bool:
    """Whether a handler returned a coroutine (an ``async def`` handler); exact type test."""
    return type(obj) is _CoroutineType


class AsyncProcess(Process):
    """Process of an async agent: a lazy deque mailbox, run on the node loop."""

    kind = "async"
    __slots__ = ("actor", "actor_class", "booting", "busy", "mailbox", "parent", "scheduled",
                 "start_error", "start_future", "started", "stop_reason", "sysq", "task")

    def __init__(self, actor: Any, proc_id: str) -> None:
        super().__init__(proc_id)
        self.actor: Any = actor
        self.actor_class = type(actor)
        self.mailbox: deque[tuple[Any, Any]] | None = None
        self.scheduled = False  # run() is queued on the loop, or draining
        self.busy = False  # a task is draining (an async handler is in progress)
        self.booting = True  # on_start has not finished
        self.task: asyncio.Task[Any] | None = None
        self.sysq: list[Any] | None = None
        self.started: threading.Event | None = None
        self.start_future: asyncio.Future[None] | None = None  # for a start awaited on the loop
        self.start_error: BaseException | None = None
        self.stop_reason: Any = None
        self.parent: AgentRef[Any] | None = None
        self.ref = actor._otp_ref_class(self, type(actor).__name__)

    # -- Process hooks --------------------------------------------------------------------
    def put(self, envelope: tuple[Any, Any]) -> None:
        mailbox = self.mailbox
        if mailbox is None:
            with self.lock:
                if self.mailbox is None:
                    self.mailbox = deque()
            mailbox = self.mailbox
        mailbox.append(envelope)
        if not self.scheduled:
            self.scheduled = True
            node_loop.activate(self)

    def take_all(self) -> list[tuple[Any, Any]]:
        items: list[tuple[Any, Any]] = []
        mailbox = self.mailbox
        while mailbox:
            try:
                items.append(mailbox.popleft())
            except IndexError:
                break
        return items

    def wake(self) -> None:
        """After death: cancel the agent's task, unless it is the task running this."""
        task = self.task
        if task is None or task.done():
            return
        if node_loop.on_loop():
            if asyncio.current_task() is not task:
                task.cancel()
        elif node_loop.loop is not None:
            node_loop.loop.call_soon_threadsafe(task.cancel)

    def trapping(self) -> bool:
        actor = self.actor
        return actor is not None and bool(actor.trap_exit)

    def release(self) -> None:
        super().release()
        self.actor = None  # a dead agent's state goes now, not at the next cyclic GC
        if isinstance(self.reason, BaseException):  # frames still running now: next turn
            node_loop.schedule(partial(traceback.clear_frames, self.reason.__traceback__))

    def request_shutdown(self, reason: Any) -> None:
        """System lane: finish the current message, run terminate, exit.

        From the loop itself, an idle agent (no message in progress) is shut
        down at once, so a supervisor on the loop needs no wait for it.
        """
        if (node_loop.on_loop() and not self.busy and not self.booting and not self.dead
                and node_loop.owner is not self):
            token = _current.set(self)  # terminate runs as this agent, in the caller's turn
            try:
                ending = self.end(reason, None, None)
            finally:
                _current.reset(token)
            if ending is not None:  # an async terminate: it finishes in a task of its own
                asyncio.get_running_loop().create_task(ending)
            return
        with self.lock:
            if self.sysq is None:
                self.sysq = []
        self.sysq.append(Shutdown(reason))
        self.scheduled = True
        node_loop.activate(self)

    # -- starting -------------------------------------------------------------------------------
    def boot(self, wait: bool, awaitable: bool = False) -> None:
        """Run on_start on the loop (inline when already on it).

        ``awaitable``: the starter runs on the loop and will await the start
        (``WaitStarted``), so an async on_start may run in a task.
        """
        node_loop.ensure()
        if not wait:
            self.booted()
        elif node_loop.on_loop():
            self.start_inline(allow_async=awaitable)
        else:
            self.started = threading.Event()
            node_loop.schedule(self.start_inline)

    def start_done(self) -> bool:
        return not self.booting or self.start_error is not None

    def start_waiter(self) -> asyncio.Future[None] | None:
        return self.start_future

    def wait_started(self, timeout: float) -> bool:
        return self.started is None or self.started.wait(timeout)

    def start_inline(self, allow_async: bool = True) -> None:
        # Inline on the loop, on_start runs in its starter's context: act as this agent for
        # its duration only, or the starter would go on as the new agent.
        token = _current.set(self)
        try:
            self.run_on_start(allow_async)
        finally:
            _current.reset(token)

    def run_on_start(self, allow_async: bool) -> None:
        if self.dead:  # killed before its on_start had a turn
            if self.started is not None:
                self.started.set()
            return
        try:
            result = self.actor.on_start()
            if _iscoroutine(result):
                if not allow_async:
                    result.close()
                    msg = (f"{self.ref} has an async on_start, which a start() made on the event "
                           "loop cannot wait for; start it from a thread, or make on_start sync")
                    raise RuntimeError(msg)
                loop = asyncio.get_running_loop()
                self.start_future = loop.create_future()  # the starter awaits it (WaitStarted)
                self.task = loop.create_task(self.start_async(result), name=self.id)
                return
        except BaseException as exc:  # noqa: BLE001 - any failure is a start error
            self.start_failed(exc)
            return
        self.booted()

    async def start_async(self, coro: Coroutine[Any, Any, Any]) -> None:
        _current.set(self)
        try:
            await coro
        except BaseException as exc:  # noqa: BLE001 - any failure is a start error
            self.task = None
            self.start_failed(exc)
            return
        self.task = None
        self.booted()

    def start_failed(self, exc: BaseException) -> None:
        from otp.actor._agent import start_failed

        start_failed(self, exc)
        if self.started is not None:
            self.started.set()
        if self.start_future is not None and not self.start_future.done():
            self.start_future.set_result(None)

    def booted(self) -> None:
        self.booting = False
        if self.started is not None:
            self.started.set()
        if self.start_future is not None and not self.start_future.done():
            self.start_future.set_result(None)
        if self.mailbox or self.sysq:
            self.scheduled = True
            node_loop.activate(self)

    # -- running ----------------------------------------------------------------------------------
    def run(self) -> None:
        """Handle queued messages with plain handlers; hand over to a task for async ones."""
        if self.busy or self.booting:
            return  # the draining task (or the end of on_start) will look at the mailbox
        _current.set(self)
        node_loop.owner = self
        agent, step = self.actor, _dispatch.step
        budget = BUDGET
        try:
            while True:
                if self.dead:
                    return
                budget -= 1
                if not budget:  # a turn is over: the rest of the mailbox waits its turn
                    node_loop.activate(self)
                    return
                if self.sysq:
                    self.end_soon(self.sysq.pop(0).reason, None, None)
                    return
                mailbox = self.mailbox
                if not mailbox:
                    self.scheduled = False
                    if not self.mailbox:
                        return
                    self.scheduled = True
                    continue
                message, future = mailbox.popleft()
                self.current_future = future
                try:
                    result = step(agent, self, message)
                except BaseException as exc:  # noqa: BLE001 - let it crash
                    self.end_soon(exc, future, (type(exc), exc, exc.__traceback__))
                    return
                if type(result) is _CoroutineType:
                    self.busy = True
                    self.task = asyncio.get_running_loop().create_task(
                        self.run_task(result, message, future), name=self.id)
                    return
                if type(result) is not _Marker and self.stop_reason is None:
                    self.current_future = None  # the common case: answer, then the next one
                    if future is not None:
                        reply(future, result)
                    continue
                if not self.after(message, future, result):
                    return
        finally:
            node_loop.owner = None

    async def run_task(self, coro: Any, message: Any, future: Any) -> None:
        """The agent's task: await an async handler, then keep draining until idle."""
        _current.set(self)
        agent, step = self.actor, _dispatch.step
        handled = 0
        try:
            while True:
                handled += 1
                if not handled % BUDGET:
                    await asyncio.sleep(0)  # a turn is over: let the other agents run
                    if self.dead:
                        return
                try:
                    result = await coro if coro is not None else step(agent, self, message)
                    if _iscoroutine(result):
                        result = await result
                except asyncio.CancelledError:
                    if self.dead:
                        return  # killed
                    raise
                except BaseException as exc:  # noqa: BLE001 - let it crash
                    ending = self.end(exc, future, (type(exc), exc, exc.__traceback__))
                    if ending is not None:
                        await ending
                    return
                coro = None
                if not self.after(message, future, result):
                    return
                while True:  # next message, or idle
                    if self.dead:
                        return
                    if self.sysq:
                        ending = self.end(self.sysq.pop(0).reason, None, None)
                        if ending is not None:
                            await ending
                        return
                    mailbox = self.mailbox
                    if mailbox:
                        message, future = mailbox.popleft()
                        self.current_future = future
                        break
                    self.scheduled = False
                    if not self.mailbox:
                        return
                    self.scheduled = True
        finally:
            self.busy = False
            self.task = None

    def after(self, message: Any, future: Any, result: Any) -> bool:
        """Deal with a handler's result; False when the agent has stopped."""
        self.current_future = None
        if result is _dispatch.STOP or result is _dispatch.PARENT_EXIT:
            self.end_soon(message.reason, future, None)
            return False
        if result is not _dispatch.DROP and future is not None:
            reply(future, result)
        if self.stop_reason is not None:
            self.end_soon(self.stop_reason, None, None)
            return False
        return True

    def end_soon(self, reason: Any, future: Any, exc_info: Any) -> None:
        """end(), running an async terminate in a task of its own."""
        ending = self.end(reason, future, exc_info)
        if ending is not None:
            asyncio.get_running_loop().create_task(ending)

    def end(self, reason: Any, future: Any, exc_info: Any) -> Coroutine[Any, Any, None] | None:
        """Terminate, then die and answer ``future``; a coroutine if terminate is async."""
        self.current_future = None
        if self.dead:
            return None
        if exc_info is not None:
            _dispatch.crash_report(self, reason)
        result = _dispatch.run_terminate(self.actor, reason)
        if _iscoroutine(result):
            return self.end_after(result, reason, future, exc_info)
        self.die_and_answer(reason, future, exc_info)
        return None

    async def end_after(self, terminating: Any, reason: Any, future: Any, exc_info: Any) -> None:
        try:
            await terminating
        except Exception as exc:  # noqa: BLE001 - as for a sync terminate
            _dispatch.terminate_failed(self.actor, reason, exc)
        self.die_and_answer(reason, future, exc_info)

    def die_and_answer(self, reason: Any, future: Any, exc_info: Any) -> None:
        self.die(reason)
        if future is not None:
            if exc_info is not None:
                reply_exception(future, exc_info)
            else:
                reply(future, None)
