"""Waiting in code that must run both on a thread and on an event loop.

Behaviour code that has to wait (a supervisor waiting for a child's DOWN,
or for a child's on_start) is written once, as a generator that yields wait
requests and gets back what it waited for. ``drive`` runs it: on a thread,
each wait blocks; on the node loop it returns a coroutine that awaits each
wait, so the loop keeps running (the async kind awaits a coroutine that a
handler returns). A timeout is thrown into the generator as ``AskTimeout``.

A request has ``poll()`` (the result if it is there already, else
``NOTHING``), ``wait()`` (blocking) and ``wait_async()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any, TypeAlias

from otp.actor._inbox import NOTHING, Inbox
from otp.errors import AskTimeout

__all__ = ["Steps", "WaitFor", "WaitStarted", "drive"]


class WaitFor:
    """A wait request: the first message in ``inbox`` for which ``match`` is true."""

    __slots__ = ("inbox", "match", "timeout")

    def __init__(self, inbox: Inbox, timeout: float | None,
                 match: Callable[[Any], bool] | None = None) -> None:
        self.inbox = inbox
        self.timeout = timeout
        self.match = match

    def poll(self) -> Any:
        return self.inbox.poll(self.match)

    def wait(self) -> Any:
        return self.inbox.receive(self.timeout, self.match)

    async def wait_async(self) -> Any:
        return await self.inbox.receive_async(self.timeout, self.match)


class WaitStarted:
    """A wait request: the end of an agent's ``on_start`` (its result is None)."""

    __slots__ = ("proc", "timeout")

    def __init__(self, proc: Any, timeout: float) -> None:
        self.proc = proc
        self.timeout = timeout

    def _late(self) -> AskTimeout:
        return AskTimeout(f"{self.proc.ref} did not finish on_start within {self.timeout} s")

    def poll(self) -> Any:
        return None if self.proc.start_done() else NOTHING

    def wait(self) -> Any:
        if not self.proc.wait_started(self.timeout):
            raise self._late()
        return None

    async def wait_async(self) -> Any:
        waiter = self.proc.start_waiter()
        try:
            if waiter is not None:  # an agent on this loop: await its start
                await asyncio.wait_for(asyncio.shield(waiter), self.timeout)
            else:  # a thread agent: wait in a worker thread, not on the loop
                done = await asyncio.get_running_loop().run_in_executor(
                    None, self.proc.wait_started, self.timeout)
                if not done:
                    raise self._late()
        except TimeoutError:
            raise self._late() from None
        return None


Steps: TypeAlias = Generator[Any, Any, Any]
"""A generator of wait requests whose return value is the result."""


def _resume(steps: Steps, received: Any = None,
            exc: BaseException | None = None) -> tuple[bool, Any]:
    """Send what was waited for (or throw its failure) into ``steps``.

    Returns (True, result) once the steps have finished, else (False, next request).
    """
    try:
        request = steps.throw(exc) if exc is not None else steps.send(received)
    except StopIteration as stop:
        return True, stop.value
    return False, request


def drive(steps: Steps, asynchronous: bool) -> Any:
    """Run ``steps``: blocking on each wait, or (``asynchronous``) as a coroutine.

    Returns the generator's result, or a coroutine of it when it has to wait
    on the loop. Code whose waits are already satisfied returns at once.
    """
    done, value = _resume(steps)
    while not done:
        request = value
        if asynchronous:
            received = request.poll()
            if received is NOTHING:
                return _drive_async(steps, request)
            done, value = _resume(steps, received)
            continue
        try:
            received = request.wait()
        except Exception as exc:  # noqa: BLE001 - a timeout goes back into the steps
            done, value = _resume(steps, exc=exc)
        else:
            done, value = _resume(steps, received)
    return value


async def _drive_async(steps: Steps, request: Any) -> Any:
    while True:
        try:
            received = await request.wait_async()
        except Exception as exc:  # noqa: BLE001 - a timeout goes back into the steps
            done, value = _resume(steps, exc=exc)
        else:
            done, value = _resume(steps, received)
        if done:
            return value
        request = value
