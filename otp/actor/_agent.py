"""AgentActor: the class users subclass, whatever the execution kind.

Generic (the runtime)                 Specific (your subclass)
---------------------                 ------------------------
start(): construct, name, link  --->  __init__(*args, **kwargs)   caller's thread
the kind boots the agent        --->  on_start()                  the agent's context
start() returns the AgentRef    <---  (on_start returned; if it raised: StartError)
one message at a time           --->  on_receive(message) / proxy-called methods
  reply to an ask               <---  return value (an async def handler is awaited)
  exception escapes             --->  the agent crashes: terminate(exc), links, DOWN
stop / supervisor shutdown      --->  terminate(reason)
kill / exit signal (not trapped)      dead at once; no terminate

The *kind* decides where that runs: ``thread`` (one OS thread per agent,
``_thread``) or ``async`` (the node's event loop, ``_async``). It is a class
attribute (``kind = "async"``) or chosen per start (``spawn(kind=...)``,
``ChildSpec(kind=...)``). The loops are our own: any exception that escapes
a handler ends the agent with that exception as its exit reason, and an
asking caller receives the same exception (pykka would keep the actor
running after an ask failure). pykka supplies the base Actor, the threads,
the futures and the proxy message types.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Self, cast

import pykka

from otp.actor import _names, _timers
from otp.actor._async import AsyncProcess
from otp.actor._messages import Down, Exit
from otp.actor._monitors import demonitor, monitor
from otp.actor._process import Process, new_id
from otp.actor._ref import AgentRef
from otp.actor._thread import ThreadProcess
from otp.actor._waits import Steps, WaitStarted, drive
from otp.errors import (
    NOPROC,
    NORMAL,
    AlreadyStarted,
    AskTimeout,
    NameTaken,
    NoProc,
    StartError,
    format_reason,
)

__all__ = ["KINDS", "AgentActor", "Ignore"]

KINDS: dict[str, type[Any]] = {"thread": ThreadProcess, "async": AsyncProcess}
"""The execution kinds, by name."""

_constructing = threading.local()  # the kind spawn() chose, read by AgentActor.__init__


class Ignore(Exception):  # noqa: N818 - OTP's word
    """Raise in ``on_start`` to decline to start (OTP's ``ignore``).

    Under a supervisor the child is recorded as not running; a direct
    ``start()`` raises ``StartError`` with reason ``"ignore"``.
    """


class AgentActor(pykka.ThreadingActor):
    """An agent: state plus handlers, run one message at a time.

    Subclass it, define ``on_start``, ``on_receive`` and/or public methods
    (called through ``ref.proxy()``), and ``terminate(reason)`` for cleanup.
    Any of them may be ``async def``.
    """

    kind: ClassVar[str] = "thread"
    """The execution kind: ``"thread"`` (default) or ``"async"``."""
    use_daemon_thread: ClassVar[bool] = True
    _otp_ref_class: ClassVar[type[AgentRef[Any]]] = AgentRef
    start_timeout: ClassVar[float] = 5.0
    """Seconds ``start()`` waits for ``on_start`` before killing the agent."""
    trap_exit: bool = False
    """Set True (class attribute or in on_start) to receive exit signals as ``Exit`` messages."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        # pykka's Actor.__init__ is not called: its Event, uuid4 and ActorRef cost ~1 KiB and
        # ~10 us per agent, and the process cell below holds what they would.
        kind = getattr(_constructing, "kind", None) or type(self).kind
        try:
            process_class = KINDS[kind]
        except KeyError:
            msg = (f"{type(self).__name__}: unknown execution kind {kind!r}; "
                   f"use one of {', '.join(map(repr, KINDS))}")
            raise ValueError(msg) from None
        proc = process_class(self, new_id())
        self._otp_proc = proc
        self.actor_urn = proc.id

    def _actor_loop(self) -> None:  # pykka's thread target, for the thread kind
        self._otp_proc.main()

    @property
    def actor_ref(self) -> AgentRef[Self]:  # type: ignore[override]
        """This agent's AgentRef."""
        return cast("AgentRef[Self]", self._otp_proc.ref)

    def __str__(self) -> str:
        return f"{type(self).__name__} ({self.actor_urn})"

    # -- starting ------------------------------------------------------------------
    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> AgentRef[Self]:  # type: ignore[override]
        """Start the agent and return its ref once ``on_start`` has succeeded.

        Steps: ``__init__(*args, **kwargs)`` runs in the caller's thread; the
        agent's kind runs ``on_start()`` (in the agent's thread, or on the
        node loop); then ``start`` returns.

        Raises:
            StartError: ``on_start`` raised (``reason`` and ``__cause__`` hold the
                exception) or did not finish within ``start_timeout``.
        """
        return cls.spawn(args=args, kwargs=kwargs)

    @classmethod
    def spawn(cls, *, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
              name: str | None = None, link: AgentRef[Any] | None = None,
              kind: str | None = None) -> AgentRef[Self]:
        """Start the agent with options: a registered ``name``, a ``link`` made before it
        starts, and the execution ``kind`` (default: the class's ``kind``).

        The linked agent is this agent's *parent*: if this agent traps exits
        and its parent exits, it terminates with the parent's reason (as an
        OTP gen_server does). A failed start sends no exit signal to the
        parent: the StartError is the notice.

        Raises:
            AlreadyStarted: ``name`` is taken; ``holder`` is the running agent.
            StartError: as for ``start()``; ``reason`` is ``"ignore"`` if
                ``on_start`` raised ``Ignore``.
            ValueError: ``kind`` is not an execution kind.
        """
        ref = cls._otp_spawn(args, kwargs, name, link, kind)
        if ref is None:
            msg = f"{cls.__name__}.on_start() raised Ignore: the agent declined to start"
            raise StartError(msg, "ignore")
        return ref

    @classmethod
    def _otp_spawn(cls, args: tuple[Any, ...], kwargs: dict[str, Any] | None, name: str | None,
                   link: AgentRef[Any] | None, kind: str | None = None) -> AgentRef[Self] | None:
        """spawn(), returning None when on_start raised Ignore (for supervisors)."""
        result: AgentRef[Self] | None = drive(
            cls._otp_spawn_steps(args, kwargs, name, link, kind, False), asynchronous=False)
        return result

    @classmethod
    def _otp_spawn_steps(cls, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
                         name: str | None, link: AgentRef[Any] | None, kind: str | None,
                         awaitable: bool) -> Steps:
        """The steps of a start, waiting for on_start (``drive`` them; see ``_waits``).

        ``awaitable``: the steps will be driven asynchronously on the node loop,
        so an async agent's async on_start can be awaited there.
        """
        _constructing.kind = kind
        try:
            agent = cls(*args, **(kwargs or {}))
        finally:
            _constructing.kind = None
        proc = agent.__dict__.get("_otp_proc")
        if proc is None:
            msg = (f"{cls.__name__}.__init__() did not call AgentActor.__init__(). "
                   "Did you forget super().__init__() in your override?")
            raise RuntimeError(msg)
        proc.register()
        if name is not None:
            try:
                _names.register(name, proc.ref)
            except NameTaken as exc:
                proc.die(NORMAL)
                msg = f"cannot start {cls.__name__} as {name!r}: already started as {exc.holder}"
                raise AlreadyStarted(msg, exc.holder) from None
        if link is not None:
            proc.parent = link
            if link._proc.link_from(proc.ref):
                proc.link_from(link)
        wait = cls.on_start is not AgentActor.on_start  # nothing can fail without on_start
        proc.boot(wait, awaitable)
        if not wait:
            return cast("AgentRef[Self]", proc.ref)
        try:
            if not proc.start_done():  # an inline on_start has finished already
                yield WaitStarted(proc, cls.start_timeout)
        except AskTimeout:
            _unlink_all(proc)  # the starter hears of it through StartError, not a signal
            proc.die("killed")
            msg = f"{proc.ref} did not finish on_start within {cls.start_timeout} s"
            raise StartError(msg, "timeout") from None
        err = proc.start_error
        if err is None:
            return cast("AgentRef[Self]", proc.ref)
        if isinstance(err, Ignore):
            return None
        reason = err.reason if isinstance(err, StartError) else err
        msg = f"{proc.ref} failed in on_start: {format_reason(reason)}"
        raise StartError(msg, reason) from err

    # -- hooks -------------------------------------------------------------------------
    def on_start(self) -> Any:
        """Run in the agent's context before any message; raising makes start() fail."""

    def on_receive(self, message: Any) -> Any:
        """Handle a plain message (not a proxy call); the return value answers an ask."""
        if not isinstance(message, Down):
            from otp import _log

            _log.get_logger().warning(_log.UNEXPECTED_MESSAGE, agent=str(self),
                                      message_type=type(message).__name__)

    def terminate(self, reason: Any) -> Any:
        """Clean up: runs in the agent's context when it stops, crashes or is shut down.

        Not run after ``kill()``, nor when an exit signal ends an agent that
        does not trap exits (as in OTP).
        """

    # -- OTP primitives, for use inside handlers ------------------------------------------
    def link(self, ref: AgentRef[Any]) -> None:
        """Link to ``ref`` both ways. If it is not alive: an ``Exit(ref, "noproc")``
        message when trapping exits, else ``NoProc`` is raised (crashing this agent)."""
        proc = self._otp_proc
        if ref == proc.ref:
            return
        if ref._proc.link_from(proc.ref):
            proc.link_from(ref)
        elif self.trap_exit:
            proc.deliver(Exit(ref, NOPROC))
        else:
            msg = f"{self} could not link to {ref}: it is not alive (noproc)"
            raise NoProc(msg, ref)

    def unlink(self, ref: AgentRef[Any]) -> None:
        """Remove the link to ``ref`` (both ways); idempotent."""
        proc = self._otp_proc
        proc.unlink_from(ref)
        ref._proc.unlink_from(proc.ref)

    def monitor(self, target: AgentRef[Any] | str) -> Any:
        """Monitor an agent (or a registered name, resolved now); returns a MonitorRef.

        A ``Down(ref, agent, reason)`` message arrives when it exits, at once
        with reason ``noproc`` if it is already gone.
        """
        return monitor(self._otp_proc, target)

    def demonitor(self, mref: Any, *, flush: bool = False) -> bool:
        """Stop monitoring; with ``flush=True`` no Down for ``mref`` is delivered afterwards."""
        return demonitor(self._otp_proc, mref, flush=flush)

    def spawn_link(self, cls: type[AgentActor], *args: Any, **kwargs: Any) -> AgentRef[Any]:
        """Start an agent linked to this one; the link exists before its on_start runs."""
        return cls.spawn(args=args, kwargs=kwargs, link=self._otp_proc.ref)

    def exit(self, ref: AgentRef[Any], reason: Any) -> None:
        """Send an exit signal to ``ref`` (OTP's exit/2); ``"kill"`` cannot be trapped."""
        ref._proc.exit_signal(self._otp_proc.ref, reason, from_link=False)

    def stop(self, reason: Any = NORMAL) -> None:
        """Stop after the current message: terminate(reason) runs, then the agent exits."""
        self._otp_proc.stop_reason = reason

    def send_after(self, delay: float, message: Any) -> Any:
        """Send ``message`` to this agent after ``delay`` seconds; returns a TimerRef."""
        return _timers.send_after(delay, self._otp_proc.ref, message)

    def cancel_timer(self, tref: Any) -> float | None:
        """Cancel a timer; return the seconds it had left, or None if it already fired."""
        return _timers.cancel_timer(tref)


def start_failed(proc: Any, exc: BaseException) -> None:
    """on_start failed (or raised Ignore): the agent exits without signalling its links."""
    proc.start_error = exc
    _unlink_all(proc)  # the starter hears of it through StartError, not a signal
    if isinstance(exc, Ignore):
        proc.die(NORMAL)
        return
    from otp import _log

    _log.get_logger().warning(_log.START_ERROR, agent=str(proc.ref), reason=format_reason(exc))
    proc.die(exc)


def _unlink_all(proc: Process) -> None:
    with proc.lock:
        links, proc.links = proc.links, None
    for other in links or ():
        other._proc.unlink_from(proc.ref)
