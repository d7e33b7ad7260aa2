"""The process cell: OTP process state shared by every execution kind.

An agent is two objects: the user's ``AgentActor`` instance (its behaviour and
state) and a ``Process`` (its identity in the runtime: links, monitors, name,
exit reason). ``AgentRef`` points at the ``Process``; a ref to an agent on
another node points at an object with the same interface that the node layer
provides: ``put``, ``dead``, ``reason``, ``link_from``, ``unlink_from``,
``add_monitor``, ``remove_monitor``, ``exit_signal``, ``request_shutdown``,
``wait_exit``, ``exit_future`` and ``drain``.

Death is one sequence, whoever causes it (the agent's own thread after a
crash or stop, or another thread delivering an exit signal or a kill):

1. mark dead and record the reason (first caller wins, under the lock);
2. release the registered name (so after DOWN, ``whereis`` returns None);
3. fail the ask being handled, if any, with ``AgentExit``;
4. send the exit signal to every link, then DOWN to every monitor;
5. drain the mailbox: queued asks fail at once, the rest count as dead letters;
6. wake whoever waits for the exit (``join``, ``join_async``), and ``release``
   what only a live process needs, so a dead agent is freed by reference counting.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import os
import threading
import traceback
import uuid
from typing import TYPE_CHECKING, Any

from otp import _log
from otp.actor import _names
from otp.actor._messages import WAKE, Down, Exit
from otp.errors import (
    KILL,
    KILLED,
    NOCONNECTION,
    NORMAL,
    AgentExit,
    NoProc,
    format_reason,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Process",
    "current",
    "dead_letter",
    "dead_letters",
    "live",
    "lookup",
    "new_id",
]


def _id_prefix() -> str:
    """A random uuid4 minus its last 12 hex digits, which a counter fills in."""
    return uuid.uuid4().urn[:-12]


_prefix = _id_prefix()
_ids = itertools.count(1)


def _renew_prefix() -> None:
    global _prefix, _ids  # noqa: PLW0603 - a forked child must not reuse its parent's ids
    _prefix, _ids = _id_prefix(), itertools.count(1)


os.register_at_fork(after_in_child=_renew_prefix)


def new_id() -> str:
    """Return a new agent id: a ``urn:uuid:`` string unique across processes and nodes.

    A random prefix per process plus a counter: 20x cheaper than ``uuid4()``.
    """
    return f"{_prefix}{next(_ids):012x}"

_current: contextvars.ContextVar[Process | None] = contextvars.ContextVar(
    "otp_current_process", default=None
)
current = _current.get
"""Return the Process whose handler is running in this context, or None."""

_table: dict[str, Process] = {}  # id -> live process
_dead_lock = threading.Lock()
_dead_count = 0
_log_dl = _log.get_logger()


def lookup(proc_id: str) -> Process | None:
    """Return the live local process with this id, or None."""
    return _table.get(proc_id)


def live() -> list[Process]:
    """Return every live local process, oldest first."""
    return list(_table.values())


def dead_letters() -> int:
    """Return how many messages were dropped because their receiver was dead."""
    return _dead_count


def dead_letter(target: Any, message: Any, future: Any = None, *, queued: bool = False) -> None:
    """Drop a message sent to a dead agent: count it, fail an ask at once.

    ``queued`` marks a message that reached the mailbox while the agent was
    alive: its ask fails with ``AgentExit`` carrying the exit reason. Asking an
    agent already dead fails with ``NoProc``, unless it is a remote agent cut
    off by the loss of its node: ``AgentExit`` with reason ``noconnection``.
    """
    global _dead_count  # noqa: PLW0603 - the counter is this module's state
    with _dead_lock:
        _dead_count += 1
    if future is not None:
        reason = getattr(target._proc, "reason", None)
        if (queued or reason == NOCONNECTION) and reason is not None:
            exc: AgentExit = AgentExit(
                f"{target} exited with {format_reason(reason)} before replying", reason, target)
        else:
            why = "" if reason is None else f"; it exited with {format_reason(reason)}"
            exc = NoProc(f"{target} is not alive (noproc){why}", target)
        _fail(future, exc)
    if _log.debug_enabled():
        _log_dl.debug(_log.DEAD_LETTER, agent=str(target), message_type=type(message).__name__)


def _resolve_exit(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _fail(future: Any, exc: BaseException) -> None:
    try:
        future.set_exception((type(exc), exc, None))
    except Exception:  # noqa: BLE001,S110 - already answered (queue.Full): nothing to do
        pass


class Process:
    """Identity and OTP state of one local agent (or Inbox).

    Sets and dicts are made on first use (``None`` until then): an idle agent
    that nobody links to or monitors costs a few hundred bytes.
    """

    __slots__ = ("__weakref__", "current_future", "dead", "exit_waiters", "exited", "flushed",
                 "id", "links", "lock", "monitors", "name", "reason", "ref", "watching")

    def __init__(self, proc_id: str) -> None:
        self.id = proc_id
        self.ref: Any = None  # set by the kind that creates the process
        self.lock = threading.Lock()
        self.dead = False
        self.reason: Any = None
        self.links: set[Any] | None = None
        self.monitors: dict[Any, Any] | None = None  # MonitorRef -> watcher AgentRef
        self.name: str | None = None
        self.watching: dict[Any, Any] | None = None  # MonitorRef -> target (monitors we made)
        self.flushed: set[Any] | None = None  # demonitored refs whose DOWN must be dropped
        self.current_future: Any = None  # the ask being handled
        self.exited: threading.Event | None = None  # made by the first wait_exit()
        self.exit_waiters: list[tuple[Any, Any]] | None = None  # (loop, future) of join_async

    # -- kind-specific hooks -------------------------------------------------
    def put(self, envelope: tuple[Any, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def take_all(self) -> Iterable[tuple[Any, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def wake(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def trapping(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def request_shutdown(self, reason: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def release(self) -> None:
        """After death: let go of what only a live process needs (kinds extend it)."""
        if isinstance(self.reason, BaseException):
            # The frames of a crash hold locals that point back at the agent; clearing
            # them lets reference counting free a dead agent instead of the cyclic GC.
            traceback.clear_frames(self.reason.__traceback__)

    # -- delivery --------------------------------------------------------------
    def deliver(self, message: Any) -> None:
        """Queue a runtime message (Down, Exit) or count it as a dead letter."""
        if self.dead:
            dead_letter(self.ref, message)
            return
        self.put((message, None))
        if self.dead:
            self.drain()

    def register(self) -> None:
        _table[self.id] = self

    def wait_exit(self, timeout: float | None) -> bool:
        """Wait until the process has exited; False if it is still alive after ``timeout``."""
        with self.lock:
            if self.dead:
                return True
            if self.exited is None:
                self.exited = threading.Event()
            exited = self.exited
        return exited.wait(timeout)

    def exit_future(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future on ``loop`` that is done once the process has exited."""
        future: asyncio.Future[None] = loop.create_future()
        with self.lock:
            if not self.dead:
                if self.exit_waiters is None:
                    self.exit_waiters = []
                self.exit_waiters.append((loop, future))
                return future
        future.set_result(None)
        return future

    # -- links and monitors ------------------------------------------------------
    def link_from(self, other: Any) -> bool:
        """Add a link to ``other``; False if this process is dead (caller gets noproc)."""
        with self.lock:
            if self.dead:
                return False
            if self.links is None:
                self.links = set()
            self.links.add(other)
            return True

    def unlink_from(self, other: Any) -> None:
        with self.lock:
            if self.links:
                self.links.discard(other)

    def add_monitor(self, mref: Any, watcher: Any) -> bool:
        """Record that ``watcher`` monitors this process; False if already dead."""
        with self.lock:
            if self.dead:
                return False
            if self.monitors is None:
                self.monitors = {}
            self.monitors[mref] = watcher
            return True

    def remove_monitor(self, mref: Any) -> bool:
        """Forget a monitor; True if it was removed before its DOWN was sent."""
        with self.lock:
            return self.monitors is not None and self.monitors.pop(mref, None) is not None

    def watch(self, mref: Any, target: Any) -> None:
        """Remember a monitor this process made (for demonitor)."""
        if self.watching is None:
            self.watching = {}
        self.watching[mref] = target

    def unwatch(self, mref: Any) -> Any:
        """Forget a monitor this process made; return its target, or None."""
        return None if self.watching is None else self.watching.pop(mref, None)

    def flush(self, mref: Any) -> None:
        """Drop the queued DOWN of ``mref`` when it is reached."""
        if self.flushed is None:
            self.flushed = set()
        self.flushed.add(mref)

    def is_flushed_down(self, down: Any) -> bool:
        """For a Down being dispatched: True if it must be dropped (demonitored with flush)."""
        if self.unwatch(down.ref) is not None or not self.flushed or down.ref not in self.flushed:
            return False
        self.flushed.discard(down.ref)
        return True

    # -- exit signals (reference item P2) -------------------------------------
    def exit_signal(self, sender: Any, reason: Any, *, from_link: bool) -> None:
        """Receive an exit signal from ``sender`` (an AgentRef, or None from outside)."""
        with self.lock:
            if self.dead:
                return
            if from_link:
                if not self.links or sender not in self.links:
                    return  # the link was removed first: the signal is dropped
                self.links.discard(sender)
        if not from_link and reason == KILL:
            self.die(KILLED)  # untrappable
        elif self.trapping():
            self.deliver(Exit(sender, reason))
        elif reason == NORMAL:
            if sender is not None and sender == self.ref:
                self.die(NORMAL)  # exit(self, normal) ends the caller
        else:
            self.die(reason)

    # -- death ------------------------------------------------------------------
    def die(self, reason: Any) -> bool:
        """Run the death sequence (see the module docstring); False if already dead."""
        with self.lock:
            if self.dead:
                return False
            self.dead = True
            self.reason = reason
            links, self.links = self.links, None
            monitors, self.monitors = self.monitors, None
            exited = self.exited
            exit_waiters, self.exit_waiters = self.exit_waiters, None
        if self.name is not None:
            _names.release(self)
        _table.pop(self.id, None)
        fut = self.current_future
        if fut is not None:
            _fail(fut, AgentExit(f"{self.ref} exited with {format_reason(reason)} before replying",
                                 reason, self.ref))
        me = self.ref
        if links:
            for other in links:
                other._proc.exit_signal(me, reason, from_link=True)
        if monitors:
            for mref, watcher in monitors.items():
                watcher._proc.deliver(Down(mref, me, reason))
        self.drain()
        if exited is not None:
            exited.set()
        self.release()
        for loop, future in exit_waiters or ():
            if asyncio._get_running_loop() is loop:
                _resolve_exit(future)
            else:
                try:
                    loop.call_soon_threadsafe(_resolve_exit, future)
                except RuntimeError:  # that loop has closed: nobody waits any more
                    pass
        self.wake()
        return True

    def drain(self) -> None:
        """Empty the mailbox of a dead process: asks fail now, tells are dead letters."""
        for message, future in self.take_all():
            if message is not WAKE:
                dead_letter(self.ref, message, future, queued=True)
