"""AgentRef, its futures and proxies: the only way to talk to an agent.

A ref is small, hashable and comparable by the agent's id; ``str(ref)`` shows
the class and the id. Everything it does goes through ``ref._proc``, which is
the local ``Process`` or, for an agent on another node, the node layer's
stand-in with the same interface: the actor runtime knows nothing of sockets.
"""

from __future__ import annotations

import asyncio
from asyncio import _get_running_loop
from typing import Any, Generic, TypeVar

from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr

from otp.actor._future import (
    DEFAULT_TIMEOUT,
    AgentFuture,
    LoopFuture,
    deadlines,
    describe,
    reply_exception,
)
from otp.actor._messages import Stop
from otp.actor._process import current, dead_letter
from otp.errors import (
    KILL,
    AgentExit,
    AskTimeout,
    CallSelfError,
    StopTimeout,
    format_reason,
)

__all__ = ["AgentProxy", "AgentRef", "ask_into"]

A = TypeVar("A")



class AgentRef(Generic[A]):
    """A reference to an agent, local or remote: tell, ask, proxy, stop, kill.

    Refs compare and hash by the agent's id; a ref outlives its agent (asking
    a dead agent raises ``NoProc``; telling it counts a dead letter).
    """

    __slots__ = ("_proc", "class_name", "id", "node")

    def __init__(self, proc: Any, class_name: str, node: str = "") -> None:
        self._proc = proc
        self.id: str = proc.id
        self.class_name = class_name
        self.node = node

    def __str__(self) -> str:
        return f"{self.class_name} ({self.id})"

    def __repr__(self) -> str:
        return f"<AgentRef {self.class_name} ({self.id})>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AgentRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def kind(self) -> str:
        """The agent's execution kind: ``"thread"`` or ``"async"``."""
        return getattr(self._proc, "kind", "thread")

    def is_alive(self) -> bool:
        """Return True unless the agent is known to have exited."""
        return not self._proc.dead

    @property
    def exit_reason(self) -> Any:
        """The agent's exit reason, or None while it is alive."""
        return self._proc.reason

    def tell(self, message: Any) -> None:
        """Send ``message`` without waiting. Never raises for a dead agent: the
        message is dropped and counted as a dead letter, as in OTP."""
        proc = self._proc
        if proc.dead:
            dead_letter(self, message)
            return
        sender = current()
        if sender is not None and sender.dead:
            return  # a thread agent declared dead while still running: its sends go nowhere
        proc.put((message, None))
        if proc.dead:
            proc.drain()

    def ask(self, message: Any, *, timeout: float | None = DEFAULT_TIMEOUT,
            block: bool = True) -> Any:
        """Send ``message`` and wait for the reply (5 s by default).

        Raises:
            CallSelfError: an agent asked itself.
            AskTimeout: no reply in time; the error names the agent and message type.
            NoProc: the agent was not alive.
            AgentExit: the agent exited before it replied (``.reason``).
            Exception: whatever the handler raised (the agent has crashed with it).

        With ``block=False`` a future is returned instead. Inside a running
        event loop (an async agent's handler, or any coroutine) a blocking ask
        would stall the loop, so it is refused: ``await ref.ask_async(message)``.
        """
        if block and _get_running_loop() is not None and current() is not self._proc:
            msg = (f"ask() of {self} would block the running event loop; "
                   "use `await ref.ask_async(message)` in async code")
            raise RuntimeError(msg)
        future = self._send_ask(message)
        return future.get(timeout=timeout) if block else future

    async def ask_async(self, message: Any, *, timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """Send ``message`` and await the reply without blocking the loop (5 s by default).

        Works in any asyncio loop: the node's, or your application's. Raises
        as ``ask`` does.
        """
        future = self._send_ask(message)
        assert isinstance(future, LoopFuture)
        if timeout is not None:
            deadlines(future._loop).add(timeout, future)
        return await future._fut

    def _send_ask(self, message: Any) -> AgentFuture | LoopFuture:
        proc = self._proc
        loop = _get_running_loop()
        future: AgentFuture | LoopFuture = AgentFuture() if loop is None else LoopFuture(loop)
        future._otp_ctx = (self, message)
        sender = current()
        if sender is proc:
            msg = (f"{self} asked itself for {describe(message)}; that would wait for ever. "
                   "Call the method directly, or use tell() to queue work for later")
            raise CallSelfError(msg)
        if proc.dead:
            dead_letter(self, message, future)
        elif sender is not None and sender.dead:  # a killed thread agent still running
            exc = AgentExit(f"{sender.ref} has exited ({format_reason(sender.reason)}); "
                            f"its ask of {self} was not sent", sender.reason, sender.ref)
            reply_exception(future, (AgentExit, exc, None))
        else:
            proc.put((message, future))
            if proc.dead:
                proc.drain()
        return future

    def proxy(self) -> AgentProxy[A]:
        """Return a proxy: ``ref.proxy().method(x)`` returns a future of the result."""
        return AgentProxy(self)

    def stop(self, *, timeout: float | None = DEFAULT_TIMEOUT) -> bool:
        """Stop the agent after the messages already queued (FIFO), and wait.

        The agent runs ``terminate("normal")`` and exits normally.

        Returns:
            True once the agent has exited; False if it was already dead.
        Raises:
            StopTimeout: it had not exited within ``timeout`` (it may still be
                running; ``kill()`` ends it at once).
        """
        _refuse_on_loop(self, "stop")
        if self._proc.dead:
            return False
        future = self._send_ask(Stop())
        try:
            future.get(timeout=timeout)
        except AskTimeout:
            msg = f"{self} did not stop within {timeout} s; use kill() to end it at once"
            raise StopTimeout(msg) from None
        except AgentExit:
            pass  # it died some other way before reaching the stop: stopped all the same
        return True

    def kill(self) -> None:
        """End the agent at once with reason ``killed``, as OTP's ``exit(Pid, kill)``.

        For a thread agent: it is dead at once (name released, links and
        monitors fired, later sends from it dropped) while its thread finishes
        the current handler or is abandoned.
        """
        self._proc.exit_signal(_sender_ref(), KILL, from_link=False)

    def join(self, timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """Wait until the agent has exited and return its exit reason.

        Raises:
            AskTimeout: it is still alive after ``timeout`` seconds.
        """
        _refuse_on_loop(self, "join")
        if not self._proc.wait_exit(timeout):
            msg = f"{self} was still alive after {timeout} s"
            raise AskTimeout(msg)
        return self._proc.reason


    async def stop_async(self, *, timeout: float | None = DEFAULT_TIMEOUT) -> bool:
        """``stop()`` for async code: the wait runs in a worker thread, not on the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: _off_loop(self.stop, timeout))

    async def join_async(self, timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """``join()`` for async code: waits without blocking the loop; returns the reason.

        Raises:
            AskTimeout: it is still alive after ``timeout`` seconds.
        """
        exited = self._proc.exit_future(asyncio.get_running_loop())
        try:
            await asyncio.wait_for(exited, timeout)
        except TimeoutError:
            msg = f"{self} was still alive after {timeout} s"
            raise AskTimeout(msg) from None
        return self._proc.reason


def ask_into(ref: AgentRef[Any], message: Any, sink: Any) -> None:
    """Ask without a future: the reply goes to ``sink.set(value)`` or
    ``sink.set_exception((type, exc, tb))``, from whichever thread answers.

    For fan-outs that gather many replies in one place. A dead agent's sink
    gets ``NoProc`` at once; a message that cannot reach another node raises
    ``CodecError`` here, as ``ask`` does.
    """
    proc = ref._proc
    if proc.dead:
        dead_letter(ref, message, sink)
        return
    proc.put((message, sink))
    if proc.dead:
        proc.drain()


def _off_loop(call: Any, timeout: float | None) -> Any:
    return call(timeout=timeout)


def _refuse_on_loop(ref: AgentRef[Any], what: str) -> None:
    if _get_running_loop() is not None:
        msg = (f"{what}() of {ref} would block the running event loop; "
               f"use `await ref.{what}_async()` in async code")
        raise RuntimeError(msg)


def _sender_ref() -> Any:
    proc = current()
    return None if proc is None else proc.ref


_methods_cache: dict[type, frozenset[str]] = {}


def _public_methods(cls: type) -> frozenset[str]:
    names = _methods_cache.get(cls)
    if names is None:
        names = frozenset(n for n in dir(cls)
                          if not n.startswith("_") and callable(getattr(cls, n, None)))
        _methods_cache[cls] = names
    return names


class AgentProxy(Generic[A]):
    """Call an agent's methods as if local; each call returns an ``AgentFuture``.

    ``proxy.method(*args)`` asks; ``proxy.method.defer(*args)`` tells (no reply);
    ``proxy.attr.get()`` reads an attribute; ``proxy.attr = v`` sets it and
    waits. Methods are found on the agent's class; any other name (an
    instance attribute, or a method of a remote agent) is resolved by the
    agent when it is called or read. Names starting with ``_`` are refused.
    """

    __slots__ = ("_methods", "_ref")

    def __init__(self, ref: AgentRef[A]) -> None:
        object.__setattr__(self, "_ref", ref)
        cls = getattr(ref._proc, "actor_class", None)
        object.__setattr__(self, "_methods", _public_methods(cls) if cls is not None else None)

    def __repr__(self) -> str:
        return f"<AgentProxy for {self._ref}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            msg = f"{self._ref}: private attribute {name!r} is not reachable through a proxy"
            raise AttributeError(msg)
        methods = self._methods
        if methods is not None and name in methods:
            return _ProxyMethod(self._ref, name)
        return _ProxyMember(self._ref, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            msg = f"{self._ref}: private attribute {name!r} is not reachable through a proxy"
            raise AttributeError(msg)
        self._ref.ask(ProxySetAttr((name,), value))


class _ProxyMethod:
    __slots__ = ("_name", "_ref")

    def __init__(self, ref: AgentRef[Any], name: str) -> None:
        self._ref = ref
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> AgentFuture | LoopFuture:
        return self._ref._send_ask(ProxyCall((self._name,), args, kwargs))

    def defer(self, *args: Any, **kwargs: Any) -> None:
        """Call the method without waiting for (or receiving) a result."""
        self._ref.tell(ProxyCall((self._name,), args, kwargs))


class _ProxyMember(_ProxyMethod):
    """A name not found on the class: called, it is a method call; read, an attribute."""

    __slots__ = ()

    def future(self) -> AgentFuture | LoopFuture:
        """Ask for the attribute's value; return the future."""
        return self._ref._send_ask(ProxyGetAttr((self._name,)))

    def get(self, *, timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """Read the attribute's value (waits ``timeout`` seconds, 5 by default)."""
        return self.future().get(timeout=timeout)
