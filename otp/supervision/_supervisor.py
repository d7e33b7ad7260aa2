"""Supervisor: an agent that starts, watches and restarts its children, as OTP's.

The supervisor traps exits; each child is linked to it. A child's exit
arrives as an ``Exit`` message and is decided by one table (``_do_restart``,
OTP's do_restart/3: restart type x exit reason) and one strategy step
(``_restart_now``: one_for_one, one_for_all, rest_for_one,
simple_one_for_one). Restarts are counted in a sliding window
(``RestartIntensity``); past it the supervisor stops every child in reverse
start order and exits ``shutdown``, which its own parent sees as a child
exit. A restart that fails is retried through the supervisor's own mailbox,
so calls are answered in between (item S8).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple

from otp import _log
from otp.actor import AgentActor, AgentRef, Exit, Ignore, Steps, drive
from otp.errors import (
    NORMAL,
    SHUTDOWN,
    SpecError,
    StartError,
    format_reason,
    is_shutdown,
)
from otp.specs import SupFlags, check_combination
from otp.supervision._backoff import BackoffState
from otp.supervision._calls import SupervisorCalls
from otp.supervision._child import (
    Child,
    ChildStartFailed,
    expected_reason,
    shutdown_children,
)
from otp.supervision._intensity import RestartIntensity
from otp.supervision._sup_ref import SupervisorRef
from otp.supervision._tree import TreeCalls

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Supervisor"]

_log_sup = _log.get_logger()


class _Retry(NamedTuple):
    """Self-message: try a child's restart again (after a failure or a backoff delay)."""

    child: Child
    reason: Any
    counted: bool  # the restart was already counted in the intensity window


class Supervisor(SupervisorCalls, TreeCalls, AgentActor):
    """A supervisor. ``Supervisor.start(children=[...], strategy=..., ...)``, or
    subclass it and override ``init()`` (OTP's callback-module style)."""

    __otp_child_type__ = "supervisor"
    _otp_ref_class = SupervisorRef
    trap_exit = True

    def __init__(self, *, children: Any = (), clock: Callable[[], float] | None = None,
                 **flags: Any) -> None:
        super().__init__()
        self._sup_given = (flags, children)
        self._sup_clock = clock or time.monotonic

    @classmethod
    def start(cls, *args: Any, name: str | None = None,  # type: ignore[override]
              kind: str | None = None, **kwargs: Any) -> SupervisorRef | None:
        """Start the supervisor and its children; return its ref once all have started.

        Keyword arguments of the base class: ``children`` (ChildSpecs or
        dicts), ``strategy``, ``intensity``, ``period``, ``auto_shutdown``,
        ``max_children``, ``backoff`` (see SupFlags), ``clock`` (for tests),
        and ``name`` to register the supervisor.

        Returns:
            The SupervisorRef, or None when ``init()`` returned None (ignore).
        Raises:
            SpecError: invalid flags or child specs; nothing was started.
            StartError: a child failed to start; ``reason`` is
                ``("failed_to_start_child", child_id, reason)`` and the children
                already started were stopped in reverse order.
        """
        if cls.init is Supervisor.init:  # flags given directly: check them in the caller
            flags = {k: v for k, v in kwargs.items() if k not in ("children", "clock")}
            check_combination(flags, kwargs.get("children", ()))
        try:
            ref = cls._otp_spawn(args, kwargs, name, None, kind)
        except StartError as exc:
            if isinstance(exc.reason, SpecError):
                raise exc.reason from None
            raise
        return ref  # type: ignore[return-value]

    def init(self) -> tuple[Any, Any] | None:
        """Return ``(flags, child specs)``, or None to ignore (not start). Override in a
        subclass; it runs in the supervisor's thread before any child starts."""
        return self._sup_given

    def _drive(self, steps: Steps) -> Any:
        """Run steps that may wait: blocking on a thread, as a coroutine on the node loop."""
        return drive(steps, self._otp_proc.kind == "async")

    # -- start ------------------------------------------------------------------------
    def on_start(self) -> Any:
        return self._drive(self._init())

    def _init(self) -> Steps:
        result = self.init()
        if result is None:
            raise Ignore
        if not (isinstance(result, tuple) and len(result) == 2):
            msg = f"{type(self).__name__}.init() must return (flags, children) or None"
            raise StartError(msg, ("bad_return", result))
        flags, specs = result
        self._flags = SupFlags.model_validate(flags)
        checked = check_combination(self._flags, specs)
        self._label = self._otp_proc.name or str(self.actor_ref)
        self._sup_started = time.monotonic()
        self._intensity = RestartIntensity(self._flags.intensity, self._flags.period,
                                           self._sup_clock)
        self._children: list[Child] = []
        self._by_ref: dict[AgentRef[Any], Child] = {}
        if self._flags.strategy == "simple_one_for_one":
            self._template = checked[0]
            return
        for spec in checked:
            child = Child(spec)
            try:
                yield from self._start(child, restart=False)
            except ChildStartFailed as exc:
                yield from self._terminate_all()
                msg = f"{self._label}: child {spec.id!r} failed to start: {format_reason(exc.reason)}"
                raise StartError(msg, ("failed_to_start_child", spec.id, exc.reason)) from None
            if child.ref is not None or spec.restart != "temporary":
                self._children.append(child)

    def _start(self, child: Child, *, restart: bool) -> Steps:
        """Steps that start a child; result (ref or None, info); raise ChildStartFailed."""
        try:
            ref, info = yield from child.start(self.actor_ref, self._otp_proc.kind == "async")
        except ChildStartFailed as exc:
            _log_sup.error(_log.START_ERROR, supervisor=self._label, child_id=child.id,
                           reason=format_reason(exc.reason))
            raise
        child.restarting = False
        child.ref = ref
        if ref is not None:
            child.started = time.monotonic()
            if restart:
                child.restarts += 1
            self._by_ref[ref] = child
            if _log.enabled("info"):
                event = _log.CHILD_RESTARTED if restart else _log.CHILD_STARTED
                _log_sup.info(event, supervisor=self._label, child_id=child.id, agent=str(ref))
        return ref, info

    # -- exits --------------------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        if type(message) is Exit:
            child = self._by_ref.pop(message.agent, None)
            if child is not None:  # else: a child we already stopped, or not ours
                child.ref, child.old_ref = None, message.agent
                return self._drive(self._do_restart(message.reason, child))
        elif type(message) is _Retry:
            child = message.child
            if child.restarting and child.ref is None and child in self._children:
                if message.counted:
                    return self._drive(self._restart_now(child, message.reason))
                return self._drive(self._restart(child, message.reason))
        else:
            super().on_receive(message)
        return None

    def _do_restart(self, reason: Any, child: Child) -> Steps:
        """OTP's do_restart/3: what a child's exit means, by restart type and reason."""
        restart = child.spec.restart
        normal = reason == NORMAL or is_shutdown(reason)
        if restart == "permanent":
            self._report(_log.CHILD_TERMINATED, child, reason)
            yield from self._restart(child, reason)
        elif normal:  # transient or temporary, ended normally: not restarted
            self._del_child(child)
            self._auto_shutdown(child)
        elif restart == "transient":
            self._report(_log.CHILD_TERMINATED, child, reason)
            yield from self._restart(child, reason)
        else:  # temporary, abnormal
            self._report(_log.CHILD_TERMINATED, child, reason)
            self._del_child(child)
            self._auto_shutdown(child)

    def _report(self, event: str, child: Child, reason: Any) -> None:
        if _log.enabled("error"):
            _log_sup.error(event, supervisor=self._label, child_id=child.id,
                           reason=format_reason(reason))

    def _del_child(self, child: Child) -> None:
        """A child that will not be restarted: temporary and dynamic ones are forgotten."""
        child.restarting = False
        if child.spec.restart == "temporary" or self._flags.strategy == "simple_one_for_one":
            self._children.remove(child)

    def _auto_shutdown(self, child: Child) -> None:
        """Item S13: a significant child ending by itself may end the supervisor."""
        mode = self._flags.auto_shutdown
        if mode == "never" or not child.spec.significant:
            return
        if mode == "all_significant" and any(
                c.spec.significant and c.ref is not None for c in self._children):
            return
        self.stop(SHUTDOWN)

    def _restart(self, child: Child, reason: Any) -> Steps:
        """Count a restart attempt; give up past the intensity, else restart (maybe later)."""
        if not self._intensity.add():
            self._give_up(child, reason)
            return
        if self._flags.backoff is not None:
            if child.backoff is None:
                child.backoff = BackoffState(self._flags.backoff, clock=self._sup_clock)
            delay = child.backoff.next_delay()
            if delay is None:  # the backoff's max_restarts is used up
                self._give_up(child, reason)
                return
            if delay > 0:
                child.restarting = True
                self.send_after(delay, _Retry(child, reason, counted=True))
                return
        yield from self._restart_now(child, reason)

    def _give_up(self, child: Child, reason: Any) -> None:
        _log_sup.error(_log.REACHED_MAX_RESTART_INTENSITY, supervisor=self._label,
                       child_id=child.id, reason=format_reason(reason))
        self._del_child(child)
        self.stop(SHUTDOWN)

    def _restart_now(self, child: Child, reason: Any) -> Steps:
        """OTP's restart/3, one row per strategy."""
        strategy = self._flags.strategy
        if strategy in ("one_for_one", "simple_one_for_one"):
            group = [child]
        elif strategy == "one_for_all":
            group = list(self._children)
        else:  # rest_for_one
            group = self._children[self._children.index(child):]
        yield from self._stop_children([c for c in group if c is not child])
        for member in [c for c in group if c in self._children]:
            try:
                yield from self._start(member, restart=True)
            except ChildStartFailed:
                # Retried through our own mailbox (S8), behind a zero-delay timer so the
                # agents whose exit may free what the start needs (a name) run first.
                member.restarting = True
                self.send_after(0, _Retry(member, reason, counted=False))
                return

    # -- stopping ----------------------------------------------------------------------------
    def _stop_children(self, children: list[Child]) -> Steps:
        """Stop children in reverse order, each fully down before the next (S10).
        Temporary children are forgotten; the others keep their specs."""
        for child in reversed(children):
            yield from self._stop_child(child)
            if child.spec.restart == "temporary" and child in self._children:
                self._children.remove(child)

    def _stop_child(self, child: Child) -> Steps:
        child.restarting = False
        if child.ref is None:
            return
        for stopped, reason in (yield from shutdown_children(self._otp_proc, [child])):
            self._stopped(stopped, reason)

    def _stopped(self, child: Child, reason: Any) -> None:
        if child.ref is not None:
            self._by_ref.pop(child.ref, None)
        child.ref = None
        if not expected_reason(child, reason):
            _log_sup.error(_log.SHUTDOWN_ERROR, supervisor=self._label, child_id=child.id,
                           reason=format_reason(reason))

    def _terminate_all(self) -> Steps:
        if self._flags.strategy == "simple_one_for_one":  # all at once, one timer (S10)
            stopped = yield from shutdown_children(self._otp_proc, list(self._children))
            for child, reason in stopped:
                self._stopped(child, reason)
        else:
            for child in reversed(self._children):
                yield from self._stop_child(child)

    def terminate(self, reason: Any) -> Any:
        """Stop every child in reverse start order before the supervisor exits."""
        if hasattr(self, "_children"):
            return self._drive(self._terminate_all())
        return None
