"""The supervisor suite's test child, its start functions, and waits without sleeps.

The test child follows OTP's ``supervisor_1`` (used by ``supervisor_SUITE``):
sent ``"die"`` it exits with the abnormal reason ``"died"``, sent ``"stop"`` it
exits normal, and it traps exits. Like a gen_server whose parent exits, it
stops with the reason of any exit signal it receives (its only link is its
supervisor). Keyword arguments switch on the variants the suite needs:

- ``log`` (a list) and ``tag``: ``("start", tag)`` is appended in ``on_start``
  and ``("stop", tag, reason)`` in ``terminate``, so tests can check order;
- ``fail_start=True``: ``on_start`` raises ``StartFailed``;
- ``hang`` (an Event): ``terminate`` blocks on it (up to 10 s): a child that
  does not shut down in time;
- ``slow`` (seconds): ``terminate`` takes that long: a slow but finite cleanup;
- ``terminating`` (an Event): set when ``terminate`` begins.

``Starter`` is a start function (``ChildSpec.start``) for the same child that
can fail on demand; ``"once"`` as first argument makes it work the first time
only, like ``supervisor_1:start_child(error)``.

No helper sleeps to wait for an effect: a child's death is awaited with
``ref.join()`` (which returns after its exit signal is already queued in the
supervisor's mailbox, so the next supervisor call sees the restart), and
polling is bounded and kept for states with no event to wait on.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
import time
from collections.abc import Callable
from typing import Any

from gates import until

from otp import ChildInfo, SupervisorRef
from otp.actor import AgentRef, Down, Exit, Inbox
from otp.errors import StartError

__all__ = [
    "INFO",
    "Payload",
    "StartFailed",
    "Starter",
    "crash",
    "exit_reason_after",
    "restarted",
    "root_cause",
    "settled_children",
    "suite_child",
    "wait_collected",
    "wait_until",
]

INFO = {"extra": "info"}
"""The info a Starter returns with the ref in ``"info"`` mode (OTP's ``{ok, Pid, Info}``)."""

WAIT = 5.0
"""Seconds any helper waits before failing the test."""


class StartFailed(Exception):
    """What a failing start function, or the child's ``on_start``, raises."""


class Payload:
    """A start argument a test can hold a weakref to (S12: args are not retained)."""


@functools.cache
def suite_child(kind: Any) -> type[Any]:
    """Return the suite's test child class for ``kind`` (built once per kind)."""

    class SuiteChild(kind.Agent):  # type: ignore[misc, name-defined]
        trap_exit = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__()
            self.args = args
            self.kwargs = kwargs

        def _record(self, *entry: Any) -> None:
            log = self.kwargs.get("log")
            if log is not None:
                log.append(entry)

        def on_start(self) -> None:
            if self.kwargs.get("fail_start"):
                msg = f"on_start of {self.kwargs.get('tag')!r} failed"
                raise StartFailed(msg)
            self._record("start", self.kwargs.get("tag"))

        def on_receive(self, message: Any) -> Any:  # noqa: C901 - one case per message
            match message:
                case Exit(reason=reason):
                    self.stop(reason)  # as a gen_server whose parent exits
                case Down():
                    pass
                case "die":
                    self.stop("died")
                case "stop":
                    self.stop()
                case ("exit", reason):
                    self.stop(reason)
                case ("raise", exc):
                    raise exc
                case "ping":
                    return "pong"
                case "args":
                    return self.args
                case ("unlink", ref):
                    self.unlink(ref)
                # The busy cases return a coroutine, which every kind awaits: a thread
                # agent on its own small loop, an async agent without holding the node loop.
                case ("block", started, gate):  # busy in a handler until the gate opens
                    started.set()
                    return until(gate, 10)
                case ("work", started, seconds):  # busy for a while, then record it
                    started.set()
                    return self._work(seconds)
                case ("work_then_exit", started, seconds, reason):  # exits by itself, later
                    started.set()
                    return self._work(seconds, exit_reason=reason)
            return None

        async def _work(self, seconds: float, exit_reason: Any = None) -> None:
            await asyncio.sleep(seconds)
            if exit_reason is None:
                self._record("done", self.kwargs.get("tag"))
            else:
                self.stop(exit_reason)

        def terminate(self, reason: Any) -> Any:
            self._record("stop", self.kwargs.get("tag"), reason)
            terminating = self.kwargs.get("terminating")
            if terminating is not None:
                terminating.set()
            gate, slow = self.kwargs.get("hang"), self.kwargs.get("slow")
            return self._linger(gate, slow) if gate is not None or slow else None

        async def _linger(self, gate: threading.Event | None, slow: float | None) -> None:
            if gate is not None:
                await until(gate, 10)
            if slow:
                await asyncio.sleep(slow)

    SuiteChild.__name__ = SuiteChild.__qualname__ = f"SuiteChild_{kind.name}"
    return SuiteChild


_MODES = ("ignore", "error", "bad", "info", "once")


class Starter:
    """A ``ChildSpec.start`` for the suite child that records calls and can fail.

    Args:
        kind: the execution kind whose suite child it starts.
        works: how many calls succeed before every later call fails (None: all).
        fail_on: numbers of the calls (from 1) that fail.
        delay: seconds a failing call takes (a slow failing start, as OTP's
            ``supervisor_deadlock``), so a restart loop does not spin.

    Set ``failing = True`` to make every call fail until it is set back.
    The first positional argument may pick the outcome of one call:
    ``"ignore"`` returns None, ``"error"`` raises, ``"bad"`` returns a value
    that is not a ref, ``"info"`` returns ``(ref, INFO)`` and ``"once"`` works
    on the first ``"once"`` call only. Every started ref is kept in ``refs``.
    """

    def __init__(self, kind: Any, *, works: int | None = None,
                 fail_on: tuple[int, ...] = (), delay: float = 0.0) -> None:
        self.cls = suite_child(kind)
        self.works = works
        self.fail_on = set(fail_on)
        self.delay = delay
        self.failing = False
        self.calls = 0
        self.once_calls = 0
        self.refs: list[AgentRef[Any]] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Starter(calls={self.calls})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
            n = self.calls
        mode = args[0] if args and isinstance(args[0], str) and args[0] in _MODES else "ok"
        if mode == "ignore":
            return None
        if mode == "bad":
            return "not a ref"
        fail = (mode == "error" or self.failing or n in self.fail_on
                or (self.works is not None and n > self.works))
        if mode == "once":
            self.once_calls += 1
            fail = fail or self.once_calls > 1
        if fail:
            if self.delay:
                time.sleep(self.delay)  # the start itself is slow: not a wait for an effect
            msg = f"start call #{n} failed"
            raise StartFailed(msg)
        ref = self.cls.spawn(args=args, kwargs=kwargs)
        self.refs.append(ref)
        return (ref, INFO) if mode == "info" else ref


# -- waiting ------------------------------------------------------------------------------------


def crash(ref: AgentRef[Any], message: Any = "die") -> Any:
    """Tell ``ref`` to exit (``"die"``: abnormally) and return its exit reason once it is gone."""
    ref.tell(message)
    return ref.join(timeout=WAIT)


def exit_reason_after(ref: AgentRef[Any], action: Callable[[], Any]) -> Any:
    """Monitor ``ref``, run ``action()``, and return the reason of ``ref``'s DOWN."""
    with Inbox() as inbox:
        mref = inbox.monitor(ref)
        action()
        down = inbox.receive(timeout=WAIT,
                             match=lambda m: isinstance(m, Down) and m.ref == mref)
        return down.reason


def restarted(sup: SupervisorRef, child_id: str, old: AgentRef[Any]) -> AgentRef[Any]:
    """Return child ``child_id``'s ref, asserting it is running and is not ``old``."""
    new = sup.whereis(child_id)
    assert isinstance(new, AgentRef), f"{child_id} is not running: {sup.which_children()}"
    assert new != old, f"{child_id} was not restarted"
    assert new.is_alive()
    return new


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll ``predicate`` every 10 ms until it returns a true value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            msg = f"condition not met within {timeout} s"
            raise AssertionError(msg)
        time.sleep(0.01)
    return result


def settled_children(sup: SupervisorRef) -> list[ChildInfo]:
    """Return which_children() once no child is "restarting" (bounded polling)."""
    def settled() -> list[ChildInfo] | None:
        children = sup.which_children()
        return None if any(c.ref == "restarting" for c in children) else children

    result: list[ChildInfo] = wait_until(settled)
    return result


def wait_collected(*refs: Callable[[], Any]) -> None:
    """Wait until every weakref in ``refs`` is dead, collecting garbage meanwhile."""
    def collected() -> bool:
        gc.collect()
        return all(r() is None for r in refs)

    wait_until(collected)


def root_cause(reason: Any) -> Any:
    """Unwrap StartError layers (a start function may raise one around the real reason)."""
    while isinstance(reason, StartError):
        reason = reason.reason
    return reason
