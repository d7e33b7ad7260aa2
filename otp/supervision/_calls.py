"""The supervisor's call API: the server side of SupervisorRef's methods (item S11).

Each call answers ``("ok", value)`` or ``("error", exception)``; the ref
raises the exception in the caller. A bad request never crashes the
supervisor.
"""

from __future__ import annotations

from typing import Any

from otp.actor import AgentRef, Steps
from otp.errors import AlreadyStarted, SpecError, SupervisorError, format_reason
from otp.specs import ChildSpec, SupFlags, check_combination
from otp.supervision._child import Child, ChildStartFailed
from otp.supervision._sup_ref import ChildCounts, ChildInfo

__all__ = ["SupervisorCalls"]


def _ok(value: Any = None) -> tuple[str, Any]:
    return ("ok", value)


def _error(exc: Exception) -> tuple[str, Any]:
    return ("error", exc)


class SupervisorCalls:
    """Mixin of Supervisor: the calls. Needs the supervisor's ``_flags``, ``_children``,
    ``_by_ref``, ``_template``, ``_label``, ``_start`` and ``_stop_child``."""

    _flags: SupFlags
    _children: list[Child]
    _by_ref: dict[AgentRef[Any], Child]
    _template: ChildSpec
    _label: str
    _intensity: Any

    def _start(self, child: Child, *, restart: bool) -> Steps:
        raise NotImplementedError

    def _stop_child(self, child: Child) -> Steps:
        raise NotImplementedError

    def _drive(self, steps: Steps) -> Any:
        raise NotImplementedError

    def start_child(self, *args: Any, **kwargs: Any) -> Any:
        return self._drive(self._start_child(args, kwargs))

    def _start_child(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Steps:
        if self._flags.strategy == "simple_one_for_one":
            return (yield from self._start_dynamic(args, kwargs))
        if len(args) != 1 or kwargs:
            return _error(TypeError("start_child() takes one child spec (a ChildSpec or a dict)"))
        try:
            spec = ChildSpec.model_validate(args[0])
            check_combination(self._flags, [spec])
        except SpecError as exc:
            return _error(exc)
        existing = self._find(spec.id)
        if existing is not None:
            if existing.ref is not None:
                msg = f"{self._label}: child {spec.id!r} is already started as {existing.ref}"
                return _error(AlreadyStarted(msg, existing.ref))
            return _error(SupervisorError(
                f"{self._label}: child {spec.id!r} is already present (not running); use "
                "restart_child() or delete_child()", "already_present"))
        child = Child(spec)
        try:
            ref, info = yield from self._start(child, restart=False)
        except ChildStartFailed as exc:
            return _error(_start_error(self._label, spec.id, exc.reason))
        if ref is not None or spec.restart != "temporary":
            self._children.append(child)
        return _ok(ref if info is None else (ref, info))

    def _start_dynamic(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Steps:
        limit = self._flags.max_children
        if limit is not None and len(self._children) >= limit:
            return _error(SupervisorError(
                f"{self._label}: max_children ({limit}) reached", "max_children"))
        spec = self._template
        temporary = spec.restart == "temporary"
        child = Child(spec, spec.args + args, {**spec.kwargs, **kwargs})
        try:
            ref, info = yield from self._start(child, restart=False)
        except ChildStartFailed as exc:
            return _error(_start_error(self._label, None, exc.reason))
        if temporary:
            child.args = child.kwargs = None  # never retained (S12)
        if ref is not None:
            self._children.append(child)
        return _ok(ref if info is None else (ref, info))

    def terminate_child(self, key: Any) -> Any:
        return self._drive(self._terminate_child(key))

    def _terminate_child(self, key: Any) -> Steps:
        simple = self._flags.strategy == "simple_one_for_one"
        if simple and not isinstance(key, AgentRef):
            return _error(SupervisorError(
                f"{self._label}: a dynamic supervisor's children have no ids; pass the "
                f"child's ref, not {key!r}", "simple_one_for_one"))
        child = self._find(key)
        if child is None:
            if isinstance(key, AgentRef) and not key.is_alive():
                return _ok()
            return _error(_not_found(self._label, key))
        yield from self._stop_child(child)
        if simple or child.spec.restart == "temporary":
            self._children.remove(child)
        return _ok()

    def restart_child(self, child_id: Any) -> Any:
        return self._drive(self._restart_child(child_id))

    def _restart_child(self, child_id: Any) -> Steps:
        child = self._static_child(child_id)
        if isinstance(child, tuple):
            return child
        busy = self._busy(child, "")
        if busy is not None:
            return busy
        try:
            ref, info = yield from self._start(child, restart=False)
        except ChildStartFailed as exc:
            return _error(_start_error(self._label, child_id, exc.reason))
        return _ok(ref if info is None else (ref, info))

    def delete_child(self, child_id: Any) -> tuple[str, Any]:
        child = self._static_child(child_id)
        if isinstance(child, tuple):
            return child
        busy = self._busy(child, "; terminate_child() it first")
        if busy is not None:
            return busy
        self._children.remove(child)
        return _ok()

    def which_children(self) -> tuple[str, Any]:
        simple = self._flags.strategy == "simple_one_for_one"
        return _ok([ChildInfo(None if simple else c.id,
                              c.ref if c.ref is not None else ("restarting" if c.restarting else None),
                              c.spec.type) for c in reversed(self._children)])

    def count_children(self) -> tuple[str, Any]:
        kids = self._children
        sups = sum(1 for c in kids if c.spec.type == "supervisor")
        active = sum(1 for c in kids if c.ref is not None)
        specs = 1 if self._flags.strategy == "simple_one_for_one" else len(kids)
        return _ok(ChildCounts(specs, active, sups, len(kids) - sups))

    def get_childspec(self, key: Any) -> tuple[str, Any]:
        child = self._find(key)
        if child is None:
            return _error(_not_found(self._label, key))
        return _ok(child.spec)

    def whereis_child(self, child_id: Any) -> tuple[str, Any]:
        child = self._find(child_id)
        return _ok(None if child is None else child.ref)

    def reconfigure(self, **changes: Any) -> tuple[str, Any]:
        if "strategy" in changes and changes["strategy"] != self._flags.strategy:
            return _error(SpecError(
                f"invalid_strategy: {self._label}: the strategy cannot change at runtime "
                f"(it is {self._flags.strategy!r}); start a new supervisor", "invalid_strategy",
                "strategy", changes["strategy"]))
        try:
            flags = SupFlags.model_validate({**self._flags.model_dump(), **changes})
            specs = [self._template] if self._flags.strategy == "simple_one_for_one" else [
                c.spec for c in self._children]
            check_combination(flags, specs)
        except SpecError as exc:
            return _error(exc)
        self._flags = flags
        self._intensity.intensity, self._intensity.period = flags.intensity, flags.period
        return _ok()

    def update_childspec(self, spec: Any) -> tuple[str, Any]:
        try:
            spec = ChildSpec.model_validate(spec)
            check_combination(self._flags, [spec])
        except SpecError as exc:
            return _error(exc)
        if self._flags.strategy == "simple_one_for_one":
            if spec.id != self._template.id:
                return _error(_not_found(self._label, spec.id))
            self._template = spec
            for dynamic in self._children:
                dynamic.spec = spec
            return _ok()
        child = self._find(spec.id)
        if child is None:
            return _error(_not_found(self._label, spec.id))
        child.spec = spec
        return _ok()

    # -- lookups ---------------------------------------------------------------------------------
    def _find(self, key: Any) -> Child | None:
        if isinstance(key, AgentRef):  # a running child, or one restarting after that ref
            found = self._by_ref.get(key)
            if found is None:
                found = next((c for c in self._children if c.restarting and c.old_ref == key),
                             None)
            return found
        if self._flags.strategy == "simple_one_for_one":
            return None
        return next((c for c in self._children if c.id == key), None)

    def _busy(self, child: Child, hint: str) -> tuple[str, Any] | None:
        """The error for a call that needs a stopped child, if this one is not stopped."""
        if child.ref is None and not child.restarting:
            return None
        state = "running" if child.ref is not None else "restarting"
        return _error(SupervisorError(f"{self._label}: child {child.id!r} is {state}{hint}", state))

    def _static_child(self, child_id: Any) -> Child | tuple[str, Any]:
        if self._flags.strategy == "simple_one_for_one":
            return _error(SupervisorError(
                f"{self._label}: not supported by a dynamic supervisor", "simple_one_for_one"))
        child = self._find(child_id)
        return _error(_not_found(self._label, child_id)) if child is None else child


def _not_found(label: str, key: Any) -> SupervisorError:
    return SupervisorError(f"{label}: no child {key!r}; which_children() lists them", "not_found")


def _start_error(label: str, child_id: Any, reason: Any) -> SupervisorError:
    who = "child" if child_id is None else f"child {child_id!r}"
    return SupervisorError(f"{label}: {who} failed to start: {format_reason(reason)}",
                           "start_error", reason)
