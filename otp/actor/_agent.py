"""AgentActor: the class users subclass. Thread kind, on pykka's ThreadingActor.

Generic (this module)                 Specific (your subclass)
---------------------                 ------------------------
start(): construct, name, link  --->  __init__(*args, **kwargs)   caller's thread
thread loop starts              --->  on_start()                  agent's thread
start() returns the AgentRef    <---  (on_start returned; if it raised: StartError)
loop: one message at a time     --->  on_receive(message) / proxy-called methods
  reply to an ask               <---  return value
  exception escapes             --->  the agent crashes: terminate(exc), links, DOWN
stop / supervisor shutdown      --->  terminate(reason)           agent's thread
kill / exit signal (not trapped)      dead at once; no terminate; thread abandoned

The loop is our own (``_actor_loop`` overrides pykka's): any exception that
escapes a handler ends the agent with that exception as its exit reason, and
an asking caller receives the same exception (pykka would keep the actor
running after an ask failure). pykka supplies the thread, the futures and the
proxy message types.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, ClassVar, Self, cast

import pykka
from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr

from otp import _log
from otp.actor import _names, _timers
from otp.actor._messages import WAKE, Down, Exit, Shutdown, Stop, next_monitor_ref
from otp.actor._process import Process, _current, dead_letter
from otp.actor._ref import AgentRef, reply, reply_exception
from otp.errors import (
    NOPROC,
    NORMAL,
    AlreadyStarted,
    NameTaken,
    NoProc,
    StartError,
    format_reason,
)

__all__ = ["AgentActor", "Ignore"]

_log_agent = _log.get_logger()
_WAKE_ENV = (WAKE, None)


class Ignore(Exception):  # noqa: N818 - OTP's word
    """Raise in ``on_start`` to decline to start (OTP's ``ignore``).

    Under a supervisor the child is recorded as not running; a direct
    ``start()`` raises ``StartError`` with reason ``"ignore"``.
    """


class _AgentProcess(Process):
    """Process of a thread agent: a SimpleQueue mailbox plus a system lane."""

    __slots__ = ("actor", "actor_class", "inbox", "parent", "start_error", "started",
                 "stop_reason", "sysq")

    def __init__(self, actor: AgentActor) -> None:
        super().__init__(actor.actor_urn, actor.actor_stopped)
        self.actor = actor
        self.actor_class = type(actor)
        self.inbox: queue.SimpleQueue[tuple[Any, Any]] = actor.actor_inbox  # type: ignore[assignment]
        self.sysq: list[Any] = []
        self.started = threading.Event()
        self.start_error: BaseException | None = None
        self.stop_reason: Any = None
        self.parent: AgentRef[Any] | None = None  # the ref linked by spawn(link=...)
        self.ref = actor._otp_ref_class(self, type(actor).__name__)

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


class AgentActor(pykka.ThreadingActor):
    """An agent: state plus handlers, run one message at a time in its own thread.

    Subclass it, define ``on_start``, ``on_receive`` and/or public methods
    (called through ``ref.proxy()``), and ``terminate(reason)`` for cleanup.
    """

    use_daemon_thread: ClassVar[bool] = True
    _otp_ref_class: ClassVar[type[AgentRef[Any]]] = AgentRef
    start_timeout: ClassVar[float] = 5.0
    """Seconds ``start()`` waits for ``on_start`` before killing the agent."""
    trap_exit: bool = False
    """Set True (class attribute or in on_start) to receive exit signals as ``Exit`` messages."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        super().__init__()
        self._otp_proc = _AgentProcess(self)

    @staticmethod
    def _create_actor_inbox() -> Any:
        return queue.SimpleQueue()

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
        agent's thread starts and runs ``on_start()``; then ``start`` returns.

        Raises:
            StartError: ``on_start`` raised (``reason`` and ``__cause__`` hold the
                exception) or did not finish within ``start_timeout``.
        """
        return cls.spawn(args=args, kwargs=kwargs)

    @classmethod
    def spawn(cls, *, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
              name: str | None = None, link: AgentRef[Any] | None = None) -> AgentRef[Self]:
        """Start the agent with options: a registered ``name``, a ``link`` made before it starts.

        The linked agent is this agent's *parent*: if this agent traps exits
        and its parent exits, it terminates with the parent's reason (as an
        OTP gen_server does). A failed start sends no exit signal to the
        parent: the StartError is the notice.

        Raises:
            AlreadyStarted: ``name`` is taken; ``holder`` is the running agent.
            StartError: as for ``start()``; ``reason`` is ``"ignore"`` if
                ``on_start`` raised ``Ignore``.
        """
        ref = cls._otp_spawn(args, kwargs, name, link)
        if ref is None:
            msg = f"{cls.__name__}.on_start() raised Ignore: the agent declined to start"
            raise StartError(msg, "ignore")
        return ref

    @classmethod
    def _otp_spawn(cls, args: tuple[Any, ...], kwargs: dict[str, Any] | None, name: str | None,
                   link: AgentRef[Any] | None) -> AgentRef[Self] | None:
        """spawn(), returning None when on_start raised Ignore (for supervisors)."""
        agent = cls(*args, **(kwargs or {}))
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
            proc.links.add(link)
            if not link._proc.link_from(proc.ref):
                proc.links.discard(link)
        agent._start_actor_loop()
        if cls.on_start is AgentActor.on_start:
            return cast("AgentRef[Self]", proc.ref)  # nothing can fail: no need to wait
        if not proc.started.wait(cls.start_timeout):
            _unlink_all(proc)  # the starter hears of it through StartError, not a signal
            proc.die("killed")
            msg = f"{proc.ref} did not finish on_start within {cls.start_timeout} s"
            raise StartError(msg, "timeout")
        err = proc.start_error
        if err is None:
            return cast("AgentRef[Self]", proc.ref)
        if isinstance(err, Ignore):
            return None
        reason = err.reason if isinstance(err, StartError) else err
        msg = f"{proc.ref} failed in on_start: {format_reason(reason)}"
        raise StartError(msg, reason) from err

    # -- hooks -------------------------------------------------------------------------
    def on_start(self) -> None:
        """Run in the agent's thread before any message; raising makes start() fail."""

    def on_receive(self, message: Any) -> Any:
        """Handle a plain message (not a proxy call); the return value answers an ask."""
        if not isinstance(message, Down):
            _log_agent.warning(_log.UNEXPECTED_MESSAGE, agent=str(self),
                               message_type=type(message).__name__)

    def terminate(self, reason: Any) -> None:
        """Clean up: runs in the agent's thread when it stops, crashes or is shut down.

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
            with proc.lock:
                proc.links.add(ref)
        elif self.trap_exit:
            proc.deliver(Exit(ref, NOPROC))
        else:
            msg = f"{self} could not link to {ref}: it is not alive (noproc)"
            raise NoProc(msg, ref)

    def unlink(self, ref: AgentRef[Any]) -> None:
        """Remove the link to ``ref`` (both ways); idempotent."""
        proc = self._otp_proc
        with proc.lock:
            proc.links.discard(ref)
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

    # -- the loop ------------------------------------------------------------------------
    def _actor_loop(self) -> None:
        proc = self._otp_proc
        _current.set(proc)
        try:
            self.on_start()
        except BaseException as exc:  # noqa: BLE001 - any failure is a start error
            proc.start_error = exc
            _unlink_all(proc)  # the starter hears of it through StartError, not a signal
            if isinstance(exc, Ignore):
                proc.die(NORMAL)
            else:
                _log_agent.warning(_log.START_ERROR, agent=str(proc.ref),
                                   reason=format_reason(exc))
                proc.die(exc)
            proc.started.set()
            return
        proc.started.set()
        if proc.dead:
            return
        self._otp_run(proc)

    def _otp_run(self, proc: _AgentProcess) -> None:  # noqa: C901, PLR0912 - the dispatcher table
        get = proc.inbox.get
        sysq = proc.sysq
        while True:
            message, future = get()
            if sysq:
                request = sysq.pop(0)
                self._otp_finish(proc, request.reason, None)
                if message is not WAKE:  # taken from the queue but never handled
                    dead_letter(proc.ref, message, future, queued=True)
                return
            if proc.dead:
                return
            if message is WAKE:
                continue
            proc.current_future = future
            try:
                kind = type(message)
                if kind is ProxyCall:
                    result = _resolve(self, message.attr_path)(*message.args, **message.kwargs)
                elif kind is ProxyGetAttr:
                    result = _resolve(self, message.attr_path)
                elif kind is ProxySetAttr:
                    setattr(_resolve(self, message.attr_path[:-1]), message.attr_path[-1],
                            message.value)
                    result = None
                elif kind is Stop:
                    self._otp_finish(proc, message.reason, future)
                    return
                elif kind is Exit and message.agent is not None \
                        and message.agent == proc.parent:
                    self._otp_finish(proc, message.reason, None)  # gen_server: parent exited
                    return
                elif kind is Down and proc.watching.pop(message.ref, None) is None \
                        and message.ref in proc.flushed:
                    proc.flushed.discard(message.ref)
                    continue
                else:
                    result = self.on_receive(message)
            except BaseException as exc:  # noqa: BLE001 - let it crash
                proc.current_future = None
                self._otp_crash(proc, exc)  # the caller hears of it once the agent is gone
                if future is not None:
                    reply_exception(future, (type(exc), exc, exc.__traceback__))
                return
            proc.current_future = None
            if future is not None:
                reply(future, result)
            if proc.stop_reason is not None:
                self._otp_finish(proc, proc.stop_reason, None)
                return

    def _otp_crash(self, proc: _AgentProcess, exc: BaseException) -> None:
        if proc.dead:
            return
        if _log.enabled("error"):  # the report goes out before the links and monitors fire
            _log_agent.error(_log.AGENT_CRASHED, agent=str(proc.ref), reason=format_reason(exc),
                             traceback=_log.format_traceback(exc))
        self._otp_terminate(exc)
        proc.die(exc)

    def _otp_finish(self, proc: _AgentProcess, reason: Any, future: Any) -> None:
        if proc.dead:
            return
        self._otp_terminate(reason)
        proc.die(reason)
        if future is not None:
            reply(future, None)

    def _otp_terminate(self, reason: Any) -> None:
        try:
            self.terminate(reason)
        except Exception as exc:  # noqa: BLE001 - a failing terminate must not hide the reason
            _log_agent.error(_log.TERMINATE_FAILED, agent=str(self), reason=format_reason(reason),
                             traceback=_log.format_traceback(exc))


def _unlink_all(proc: Process) -> None:
    with proc.lock:
        links, proc.links = proc.links, set()
    for other in links:
        other._proc.unlink_from(proc.ref)


def _resolve(root: Any, path: tuple[str, ...]) -> Any:
    obj = root
    for part in path:
        if part.startswith("_"):
            msg = f"{root}: private attribute {part!r} is not reachable through a proxy"
            raise AttributeError(msg)
        obj = getattr(obj, part)
    return obj


def monitor(watcher: Process, target: AgentRef[Any] | str) -> Any:
    """Monitor ``target`` on behalf of process ``watcher``; return the MonitorRef."""
    mref = next_monitor_ref()
    ref = _names.whereis(target) if isinstance(target, str) else target
    if ref is None:  # a name nobody holds
        watcher.deliver(Down(mref, target, NOPROC))
        return mref
    watcher.watching[mref] = ref
    if not ref._proc.add_monitor(mref, watcher.ref):
        watcher.deliver(Down(mref, ref, NOPROC))
    return mref


def demonitor(watcher: Process, mref: Any, *, flush: bool) -> bool:
    """Remove a monitor that ``watcher`` made; True if it was removed before it fired."""
    target = watcher.watching.pop(mref, None)
    if target is None:
        return False  # unknown, or its Down was already handled
    if target._proc.remove_monitor(mref):
        return True
    if flush:
        watcher.flushed.add(mref)  # its Down is queued: drop it when it is reached
    return False
