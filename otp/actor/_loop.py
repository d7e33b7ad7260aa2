"""The node's event loop: its thread, the agents' dispatcher, and the loop-lag watchdog.

One asyncio loop per node runs in a daemon thread, started on first use.
Async agents with work are queued on ``ready`` and run by one dispatcher
callback, so a chain of agents (a crash, its supervisor, the restart) takes
one loop iteration. A watchdog thread notices a handler that holds the
loop: the loop's heartbeat (a callback every ``interval``) runs late, the
watchdog names the agent whose task or handler is running, and a
``loop_lag`` event reports it with the time the loop was held.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from otp import _log
from otp.actor._process import Process, lookup

if TYPE_CHECKING:
    from collections.abc import Callable

    from otp.actor._async import AsyncProcess

__all__ = ["BUDGET", "NodeLoop", "event_loop", "node_loop", "set_loop_lag_threshold"]

_log_loop = _log.get_logger()

BUDGET = 100
"""Messages an agent handles in one turn before the loop lets others run (Erlang's
reductions): an agent that keeps feeding its own mailbox cannot starve the node."""
DISPATCH_BUDGET = 1000
"""Agent turns one dispatch runs before it yields to asyncio's tasks and I/O."""


class NodeLoop:
    """The node's event loop, its thread, and its loop-lag watchdog."""

    interval = 0.02  # heartbeat period (s)

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread_id: int | None = None
        self.owner: Process | None = None  # the agent running a plain handler right now
        self.lag_threshold = 0.1  # seconds the loop may be held before loop_lag is reported
        self._lock = threading.Lock()
        self.ready: deque[AsyncProcess] = deque()  # agents with work, in arrival order
        self._dispatch_armed = False
        self._due = 0.0  # when the next heartbeat should run
        self._culprit: str | None = None  # who held the loop, seen by the watchdog

    def ensure(self) -> asyncio.AbstractEventLoop:
        """Return the running node loop, starting its thread on first use."""
        loop = self.loop
        if loop is not None:
            return loop
        with self._lock:
            if self.loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    self.thread_id = threading.get_ident()
                    loop.call_soon(ready.set)
                    loop.call_soon(self._beat)
                    loop.run_forever()

                threading.Thread(target=main, name="otp-loop", daemon=True).start()
                ready.wait(5)
                threading.Thread(target=self._watch, name="otp-loop-watchdog",
                                 daemon=True).start()
                self.loop = loop
            return self.loop

    def on_loop(self) -> bool:
        """Return True when called from the node loop's thread."""
        return threading.get_ident() == self.thread_id

    def schedule(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` on the loop soon, from any thread."""
        loop = self.loop or self.ensure()
        if threading.get_ident() == self.thread_id:
            loop.call_soon(callback)
        else:
            loop.call_soon_threadsafe(callback)

    def activate(self, proc: AsyncProcess) -> None:
        """Give ``proc`` a turn soon, from any thread.

        Agents activated while the dispatcher runs get their turn in the same
        pass, so a chain of agents (a crash, its supervisor, the restart)
        costs one loop iteration rather than one each.
        """
        self.ready.append(proc)
        if not self._dispatch_armed:
            self._dispatch_armed = True
            self.schedule(self._dispatch)

    def _dispatch(self) -> None:
        ready, turns = self.ready, DISPATCH_BUDGET
        while ready and turns:
            ready.popleft().run()
            turns -= 1
        self._dispatch_armed = False
        if ready:  # work left, or added by another thread as we finished: another pass
            self._dispatch_armed = True
            self.schedule(self._dispatch)

    # -- loop-lag detection -------------------------------------------------------------
    def _beat(self) -> None:
        now = time.monotonic()
        late = now - self._due if self._due else 0.0
        if late > self.lag_threshold:
            culprit, self._culprit = self._culprit, None
            _log_loop.warning(_log.LOOP_LAG, agent=culprit or "unknown", held_s=round(late, 4))
        self._due = now + self.interval
        asyncio.get_running_loop().call_later(self.interval, self._beat)

    def _watch(self) -> None:
        """Watchdog thread: while the heartbeat is late, note which agent holds the loop."""
        while True:
            time.sleep(self.interval)
            due = self._due
            if due and time.monotonic() - due > self.lag_threshold and self._culprit is None:
                self._culprit = self._holder()

    def _holder(self) -> str | None:
        task = asyncio.current_task(self.loop) if self.loop is not None else None
        proc = lookup(task.get_name()) if task is not None else self.owner
        return None if proc is None else str(proc.ref)


node_loop = NodeLoop()


def event_loop() -> asyncio.AbstractEventLoop:
    """Return the node's event loop (async agents run on it), starting it if needed.

    Run your own coroutines there with ``asyncio.run_coroutine_threadsafe(coro,
    otp.actor.event_loop())``.
    """
    return node_loop.ensure()


def set_loop_lag_threshold(seconds: float) -> None:
    """Report handlers that hold the node loop longer than ``seconds`` (default 0.1)."""
    if not isinstance(seconds, int | float) or seconds <= 0:
        msg = f"the loop-lag threshold must be a number of seconds > 0, not {seconds!r}"
        raise ValueError(msg)
    node_loop.lag_threshold = float(seconds)
