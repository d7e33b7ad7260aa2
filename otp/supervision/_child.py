"""One supervised child: its record, how it is started, and how it is shut down.

Start (OTP's do_start_child): an AgentActor class is spawned linked to the
supervisor, so the link exists before its ``on_start`` runs; any other
callable is called and the supervisor links to the ref it returns. The
result is a ref, ``(ref, info)``, or None (``ignore``); anything else is a
start error ``("bad_return", value)``.

Placement: a spec with ``node`` starts its child on the first connected
candidate node (``otp.node`` remote spawn, linked to the supervisor before
``on_start`` runs there); this node's own name means here. When that node
is lost the link fires with ``noconnection`` and the restart picks again.

Shutdown (OTP's shutdown/2, item S9): the supervisor unlinks, monitors the
child, then either kills it (``brutal_kill``) or asks it to shut down
through its system lane and kills it after ``shutdown`` milliseconds.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import otp.node
from otp.actor import AgentActor, AgentRef, Down, Exit, Inbox, Steps, WaitFor, register
from otp.actor._agent import Ignore
from otp.errors import (
    KILLED,
    NOCONNECTION,
    NOPROC,
    SHUTDOWN,
    AgentExit,
    AlreadyStarted,
    AskTimeout,
    StartError,
    is_shutdown,
)

if TYPE_CHECKING:
    from otp.specs import ChildSpec
    from otp.supervision._backoff import BackoffState

__all__ = ["Child", "ChildStartFailed", "shutdown_children", "start_spec"]


class ChildStartFailed(Exception):  # noqa: N818 - internal signal, carries OTP's reason
    """Internal: a child's start failed; ``reason`` is OTP's start-error reason."""

    def __init__(self, reason: Any) -> None:
        super().__init__(reason)
        self.reason = reason


class Child:
    """A supervisor's record of one child. Temporary children keep no start args (S12).

    Besides OTP's state it keeps two figures for introspection (``otp.supervision.describe``):
    ``restarts``, how many times its supervisor has restarted it (whatever strategy caused
    the restart: a one_for_all restart counts once for each child it restarts), and
    ``started``, the ``time.monotonic()`` at which its current incarnation started.
    """

    __slots__ = ("args", "backoff", "kwargs", "old_ref", "ref", "restarting", "restarts", "spec",
                 "started")

    def __init__(self, spec: ChildSpec, args: tuple[Any, ...] | None = None,
                 kwargs: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.args = args  # the full start args of a dynamic child (None: use the spec's)
        self.kwargs = kwargs
        self.ref: AgentRef[Any] | None = None
        self.old_ref: AgentRef[Any] | None = None  # the exited ref, while restarting (OTP)
        self.restarting = False
        self.backoff: BackoffState | None = None
        self.restarts = 0  # successful restarts by the supervisor
        self.started: float | None = None  # time.monotonic() of the current incarnation's start

    @property
    def id(self) -> str:
        return self.spec.id

    def start(self, parent: AgentRef[Any], on_loop: bool) -> Steps:
        """Steps that start this child linked to ``parent``; raise ChildStartFailed."""
        args = self.spec.args if self.args is None else self.args
        kwargs = self.spec.kwargs if self.kwargs is None else self.kwargs
        return start_spec(self.spec, args, kwargs, parent, on_loop)


def start_spec(spec: ChildSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               parent: AgentRef[Any], on_loop: bool) -> Steps:
    """Steps that start a child from its spec, with result (ref or None for ignore, info).

    ``on_loop``: the supervisor runs on the node loop and awaits the waits.
    """
    start = spec.start
    if spec.node is not None:
        where = _placement(spec)
        if where is not None:
            return (yield from _start_remote(spec, where, args, kwargs, parent))
    if isinstance(start, type) and issubclass(start, AgentActor):
        try:
            ref = yield from start._otp_spawn_steps(args, kwargs, spec.name, parent, spec.kind,
                                                    on_loop)
            return ref, None
        except StartError as exc:
            raise ChildStartFailed(exc.reason) from exc
        except AlreadyStarted as exc:
            raise ChildStartFailed(("already_started", exc.holder)) from exc
        except Exception as exc:  # noqa: BLE001 - __init__ raised: a start error
            raise ChildStartFailed(exc) from exc
    try:
        result = start(*args, **kwargs)
    except Ignore:
        return None, None
    except StartError as exc:
        raise ChildStartFailed(exc.reason) from exc
    except Exception as exc:  # noqa: BLE001 - the start function failed
        raise ChildStartFailed(exc) from exc
    if result is None:
        return None, None
    info = None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], AgentRef):
        result, info = result
    if not isinstance(result, AgentRef):
        raise ChildStartFailed(("bad_return", result))
    _adopt(result, spec, parent)
    return result, info


def _placement(spec: ChildSpec) -> str | None:
    """The node to start a placed child on; None means this node. ChildStartFailed if none is up."""
    node = otp.node.current()
    if node is None:
        msg = (f"child {spec.id!r} is placed on {list(spec.candidates)} but no node runs in this "
               "process: call otp.node.start(...) first")
        raise ChildStartFailed(("no_node", msg))
    connected = set(node.nodes())
    for candidate in spec.candidates:
        if candidate == node.name:
            return None
        if candidate in connected:
            return candidate
    raise ChildStartFailed((NOCONNECTION, list(spec.candidates)))


def _start_remote(spec: ChildSpec, where: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                  parent: AgentRef[Any]) -> Steps:
    node = otp.node.current()
    assert node is not None
    try:
        path = otp.node.import_path(spec.start)
        ref = yield from node.spawner.steps(where, path, args, kwargs, spec.name, parent,
                                            spec.kind)
    except StartError as exc:
        raise ChildStartFailed(exc.reason) from exc
    except AgentExit as exc:
        raise ChildStartFailed(exc.reason) from exc
    except AskTimeout as exc:
        raise ChildStartFailed(("timeout", where)) from exc
    except Exception as exc:  # noqa: BLE001 - a bad path or arguments: a start error
        raise ChildStartFailed(exc) from exc
    return ref, None


def _adopt(ref: AgentRef[Any], spec: ChildSpec, parent: AgentRef[Any]) -> None:
    """Link a child started by a plain function, and give it its spec's name."""
    proc = parent._proc
    if ref._proc.link_from(parent):
        proc.link_from(ref)
    else:  # it died already: the supervisor hears of it as an exit noproc
        proc.deliver(Exit(ref, NOPROC))
    if spec.name is not None and getattr(ref._proc, "name", None) is None:
        try:
            register(spec.name, ref)
        except Exception:  # noqa: BLE001,S110 - dead or taken: the exit/clash shows up anyway
            pass


def expected_reason(child: Child, reason: Any) -> bool:
    """Whether a reason seen while shutting ``child`` down is the expected one (S9)."""
    ok = bool(reason == (KILLED if child.spec.shutdown == "brutal_kill" else SHUTDOWN))
    if child.spec.restart != "permanent":
        ok = ok or reason == "normal" or is_shutdown(reason)
    return ok


def shutdown_children(parent_proc: Any, children: list[Child]) -> Steps:
    """Shut ``children`` down together, under the longest of their timeouts.

    Used one child at a time for ordered stops, and all at once for a
    dynamic supervisor (S10). Steps (see ``otp.actor.drive``) whose result
    is the (child, exit reason) pairs: the waits block on a thread and are
    awaited on the node loop.
    """
    parent = parent_proc.ref
    with Inbox() as inbox:
        pending: dict[Any, Child] = {}
        for child in children:
            ref = child.ref
            if ref is None:
                continue
            parent_proc.unlink_from(ref)
            ref._proc.unlink_from(parent)
            mref = inbox.monitor(ref)
            pending[mref] = child
            if child.spec.shutdown == "brutal_kill":
                ref.kill()
            else:
                ref._proc.request_shutdown(SHUTDOWN)
        results: list[tuple[Child, Any]] = []
        timeouts = [_timeout(c) for c in pending.values()]
        finite = [t for t in timeouts if t is not None]
        deadline = None if len(finite) < len(timeouts) else time.monotonic() + max(finite, default=0)
        killed = False
        while pending:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                down = yield WaitFor(inbox, remaining, _is_down)
            except AskTimeout:
                if killed:  # a kill that is never confirmed (a lost remote node): stop waiting
                    results.extend((child, KILLED) for child in pending.values())
                    break
                for child in pending.values():  # out of time: kill the rest
                    if child.ref is not None:
                        child.ref.kill()
                killed, deadline = True, time.monotonic() + 5.0
                continue
            if down.ref in pending:
                child = pending.pop(down.ref)
                reason = down.reason
                if reason == NOPROC and child.ref is not None and child.ref.exit_reason is not None:
                    reason = child.ref.exit_reason  # it had died before we looked
                results.append((child, reason))
        return results


def _is_down(message: Any) -> bool:
    return isinstance(message, Down)


def _timeout(child: Child) -> float | None:
    shutdown = child.spec.shutdown
    if shutdown == "infinity":
        return None
    if shutdown == "brutal_kill":
        return 5.0  # a kill takes effect at once; this bounds a remote one
    return float(shutdown) / 1000.0
