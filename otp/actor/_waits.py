"""Waiting in code that must run both on a thread and on an event loop.

Behaviour code that has to wait (a supervisor waiting for a child's DOWN)
is written once, as a generator that yields ``WaitFor`` requests and gets
back what was received. ``drive`` runs it: on a thread, each wait blocks;
on the node loop it returns a coroutine that awaits each wait, so the loop
keeps running (the async kind awaits a coroutine that a handler returns).
A timeout is thrown into the generator as ``AskTimeout``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeAlias

from otp.actor._inbox import NOTHING, Inbox

__all__ = ["Steps", "WaitFor", "drive"]


class WaitFor:
    """A wait request: the first message in ``inbox`` for which ``match`` is true."""

    __slots__ = ("inbox", "match", "timeout")

    def __init__(self, inbox: Inbox, timeout: float | None,
                 match: Callable[[Any], bool] | None = None) -> None:
        self.inbox = inbox
        self.timeout = timeout
        self.match = match


Steps: TypeAlias = Generator[WaitFor, Any, Any]
"""A generator of wait requests whose return value is the result."""


def drive(steps: Steps, asynchronous: bool) -> Any:
    """Run ``steps``: blocking on each wait, or (``asynchronous``) as a coroutine.

    Returns the generator's result, or a coroutine of it when it has to wait
    on the loop. Code that never waits returns its result at once either way.
    """
    try:
        request = steps.send(None)
    except StopIteration as stop:
        return stop.value
    if asynchronous:
        while True:  # go on at once while what is awaited has already arrived
            received = request.inbox.poll(request.match)
            if received is NOTHING:
                return _drive_async(steps, request)
            try:
                request = steps.send(received)
            except StopIteration as stop:
                return stop.value
    while True:
        try:
            received = request.inbox.receive(request.timeout, request.match)
        except Exception as exc:  # noqa: BLE001 - a timeout goes back into the steps
            try:
                request = steps.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            request = steps.send(received)
        except StopIteration as stop:
            return stop.value


async def _drive_async(steps: Steps, request: WaitFor) -> Any:
    while True:
        try:
            received = await request.inbox.receive_async(request.timeout, request.match)
        except Exception as exc:  # noqa: BLE001 - a timeout goes back into the steps
            try:
                request = steps.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            request = steps.send(received)
        except StopIteration as stop:
            return stop.value


