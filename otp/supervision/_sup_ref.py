"""SupervisorRef: the client side of a supervisor (OTP's supervisor:* calls).

Each method is a call into the supervisor agent, answered between the
exits it handles. The supervisor never raises into its own loop for a bad
request; it returns the error and this side raises it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from otp.actor import AgentProxy, AgentRef

if TYPE_CHECKING:
    from otp.specs import ChildSpec

__all__ = ["ChildCounts", "ChildInfo", "SUP_CALL_TIMEOUT", "SupervisorRef"]

SUP_CALL_TIMEOUT = 60.0
"""Seconds a supervisor call waits by default (OTP waits for ever; we bound every wait)."""


class ChildInfo(NamedTuple):
    """One entry of which_children(): ``ref`` is an AgentRef, None (not running) or "restarting"."""

    id: str | None
    ref: AgentRef[Any] | str | None
    type: str


class ChildCounts(NamedTuple):
    """count_children(): specs, active (running), supervisors and workers (per spec)."""

    specs: int
    active: int
    supervisors: int
    workers: int


class SupervisorRef(AgentRef[Any]):
    """A ref to a supervisor, with OTP's supervisor API as methods.

    Every method takes ``timeout`` (seconds, default 60) and raises the
    supervisor's answer as an exception: ``SupervisorError`` (``.code`` is
    OTP's ``not_found``, ``running``, ``restarting``, ``already_present``,
    ``simple_one_for_one``, ``max_children`` or ``start_error``),
    ``AlreadyStarted`` or ``SpecError``.
    """

    __slots__ = ()

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
              timeout: float | None) -> Any:
        future = getattr(AgentProxy(self), method)(*args, **kwargs)
        status, value = future.get(timeout=timeout)
        if status == "error":
            raise value
        return value

    def stop(self, *, timeout: float | None = SUP_CALL_TIMEOUT) -> bool:
        """Stop the supervisor: its children stop in reverse start order, each within its
        own shutdown time, then it exits normal. Waits up to 60 s by default."""
        return super().stop(timeout=timeout)

    def start_child(self, *args: Any, timeout: float | None = SUP_CALL_TIMEOUT,
                    **kwargs: Any) -> Any:
        """Start a child: ``start_child(spec)``, or under a dynamic supervisor
        ``start_child(*extra_args, **extra_kwargs)`` (appended to the template's).

        Returns the child's ref, ``(ref, info)`` if its start function gave
        info, or None if it declined to start (ignore).
        """
        return self._call("start_child", args, kwargs, timeout)

    def terminate_child(self, child: str | AgentRef[Any], *,
                        timeout: float | None = SUP_CALL_TIMEOUT) -> None:
        """Stop a child by id (or by ref); its spec is kept unless it is temporary."""
        self._call("terminate_child", (child,), {}, timeout)

    def restart_child(self, child_id: str, *, timeout: float | None = SUP_CALL_TIMEOUT) -> Any:
        """Start a stopped child again from its spec."""
        return self._call("restart_child", (child_id,), {}, timeout)

    def delete_child(self, child_id: str, *, timeout: float | None = SUP_CALL_TIMEOUT) -> None:
        """Forget the spec of a stopped child."""
        self._call("delete_child", (child_id,), {}, timeout)

    def which_children(self, *, timeout: float | None = SUP_CALL_TIMEOUT) -> list[ChildInfo]:
        """Return the children, newest first."""
        return self._call("which_children", (), {}, timeout)  # type: ignore[no-any-return]

    def count_children(self, *, timeout: float | None = SUP_CALL_TIMEOUT) -> ChildCounts:
        """Return the counts of specs, running children, supervisors and workers."""
        return self._call("count_children", (), {}, timeout)  # type: ignore[no-any-return]

    def get_childspec(self, child: str | AgentRef[Any], *,
                      timeout: float | None = SUP_CALL_TIMEOUT) -> ChildSpec:
        """Return a child's spec, with every default filled in."""
        return self._call("get_childspec", (child,), {}, timeout)  # type: ignore[no-any-return]

    def whereis(self, child_id: str, *,
                timeout: float | None = SUP_CALL_TIMEOUT) -> AgentRef[Any] | None:
        """Return the running child's ref, or None."""
        return self._call("whereis_child", (child_id,), {}, timeout)  # type: ignore[no-any-return]

    def reconfigure(self, *, timeout: float | None = SUP_CALL_TIMEOUT, **flags: Any) -> None:
        """Change intensity, period, auto_shutdown, max_children or backoff at runtime."""
        self._call("reconfigure", (), flags, timeout)

    def update_childspec(self, spec: ChildSpec | dict[str, Any], *,
                         timeout: float | None = SUP_CALL_TIMEOUT) -> None:
        """Replace an existing child's spec; it takes effect at the child's next start."""
        self._call("update_childspec", (spec,), {}, timeout)
