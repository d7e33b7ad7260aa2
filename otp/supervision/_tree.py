"""Supervision-tree introspection: what each supervisor runs, walked across nodes.

Each supervisor answers one more call, ``supervisor_status`` (a mixin,
``TreeCalls``, in the style of ``_calls``: answered between the exits it
handles, never raising into its loop): its flags, and per child its id,
agent, class, type, execution kind, node, state, restart count and uptime.
The figures are computed where the supervisor runs (uptime as seconds, so
the monotonic clocks of different machines never meet).

:func:`describe` walks a tree from its root, asking the nested supervisors,
local or on other nodes, one level at a time (the asks of a level go out
together) under one deadline: a supervisor that does not answer in time is
shown with state ``"unknown"`` instead of failing the walk. The result is a
JSON-able dict::

    {"id": "team", "agent": "urn:uuid:...", "class": "Supervisor",
     "type": "supervisor", "kind": "thread", "node": "a@127.0.0.1",
     "state": "running", "restarts": 0, "uptime": 12.3,
     "strategy": "one_for_one", "intensity": 3, "period": 5.0,   # supervisors only
     "children": [...same shape, in start order...]}             # supervisors only

``state`` is ``running``, ``restarting`` (a restart failed and is retried, or
waits for its backoff), ``stopped`` (terminated, or its start was ignored) or
``unknown``. :func:`roots` lists this node's root supervisors and
:func:`trees` describes them all; ``otp-node status`` shows them (the node
asks this module through the reporter registered below, since the node
layer sits under this one).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import otp.node
from otp.actor import AgentProxy, AgentRef
from otp.actor._process import live

if TYPE_CHECKING:
    from otp.specs import ChildSpec, SupFlags
    from otp.supervision._child import Child

__all__ = ["TreeCalls", "describe", "roots", "trees"]

TREE_TIMEOUT = 5.0
"""Seconds a whole walk may take by default (every ask of the walk shares this bound)."""


def _here() -> str | None:
    node = otp.node.current()
    return None if node is None else node.name


class TreeCalls:
    """Mixin of Supervisor: the introspection call. Needs the supervisor's ``_flags``,
    ``_children``, ``_sup_started`` and its process (``_otp_proc``)."""

    _flags: SupFlags
    _children: list[Child]
    _sup_started: float
    _otp_proc: Any

    def supervisor_status(self) -> tuple[str, Any]:
        """``("ok", status)``: this supervisor's flags and its children, in start order.

        Plain values only (and the children's refs, to ask the nested
        supervisors), so the answer crosses nodes as it is.
        """
        now, here = time.monotonic(), _here()
        flags = self._flags
        proc = self._otp_proc
        return ("ok", {
            "name": proc.name, "class": type(self).__name__, "kind": proc.kind, "node": here,
            "uptime": round(now - self._sup_started, 3), "strategy": flags.strategy,
            "intensity": flags.intensity, "period": flags.period,
            "children": [_child_status(child, now, here) for child in self._children]})


def _child_status(child: Child, now: float, here: str | None) -> dict[str, Any]:
    ref, spec = child.ref, child.spec
    status: dict[str, Any] = {
        "id": spec.id, "ref": ref, "agent": None, "class": None, "type": spec.type,
        "kind": None, "node": None, "state": "restarting" if child.restarting else "stopped",
        "restarts": child.restarts, "uptime": None, "askable": False}
    if ref is not None:
        remote = bool(ref.node) and ref.node != here
        status.update(
            agent=ref.id, state="running", node=ref.node or here,
            kind=_spec_kind(spec) if remote else ref.kind, askable=_askable(ref, spec),
            uptime=None if child.started is None else round(now - child.started, 3))
        status["class"] = ref.class_name
    return status


def _spec_kind(spec: ChildSpec) -> str | None:
    """The kind a child placed on another node was started with (that node spawned it so)."""
    start = spec.start
    return spec.kind or (getattr(start, "kind", None) if isinstance(start, type) else None)


def _askable(ref: AgentRef[Any] | None, spec: ChildSpec | None) -> bool:
    """Whether ``ref`` is a supervisor that answers ``supervisor_status`` (asking any other
    agent would crash it: the method would be missing)."""
    if ref is None:
        return False
    cls = getattr(ref._proc, "actor_class", None)
    if cls is None and spec is not None and isinstance(spec.start, type):
        cls = spec.start  # on another node: the class it was started from
    return isinstance(cls, type) and issubclass(cls, TreeCalls)


# -- the walk ------------------------------------------------------------------------------------
def _node_of(ref: AgentRef[Any]) -> dict[str, Any]:
    """The entry of a root, from what this side knows of its ref."""
    name = getattr(ref._proc, "name", None)
    alive = ref.is_alive()
    remote = bool(ref.node) and ref.node != _here()
    return {"id": name or ref.class_name, "agent": ref.id if alive else None,
            "class": ref.class_name if alive else None, "type": "supervisor",
            "kind": None if remote or not alive else ref.kind,
            "node": (ref.node or _here()) if alive else None,
            "state": "running" if alive else "stopped", "restarts": 0, "uptime": None,
            "strategy": None, "intensity": None, "period": None, "children": []}


def _entry(status: dict[str, Any]) -> tuple[dict[str, Any], AgentRef[Any] | None]:
    """A child's entry in the tree, and its ref if it is a supervisor to ask."""
    entry = {key: status.get(key) for key in ("id", "agent", "class", "type", "kind", "node",
                                              "state", "restarts", "uptime")}
    ref = status.get("ref")
    ask = ref if status.get("askable") and isinstance(ref, AgentRef) else None
    if ask is not None:
        entry["type"] = "supervisor"
    if entry["type"] == "supervisor":
        entry.update(strategy=None, intensity=None, period=None, children=[])
    return entry, ask


def _fill(entry: dict[str, Any], status: Any, root: bool) -> list[tuple[dict[str, Any], Any]]:
    """Put a supervisor's answer in its entry; return its nested supervisors to ask next."""
    if not (isinstance(status, tuple) and len(status) == 2 and status[0] == "ok"
            and isinstance(status[1], dict)):
        entry["state"] = "unknown"
        return []
    info = status[1]
    entry.update(strategy=info.get("strategy"), intensity=info.get("intensity"),
                 period=info.get("period"))
    if info.get("kind") is not None:
        entry["kind"] = info["kind"]
    if info.get("node") is not None:
        entry["node"] = info["node"]
    if root:
        entry["uptime"] = info.get("uptime")
        if info.get("name"):
            entry["id"] = info["name"]
    nested = []
    for child in info.get("children") or ():
        if not isinstance(child, dict):
            continue
        child_entry, ref = _entry(child)
        entry["children"].append(child_entry)
        if ref is not None:
            nested.append((child_entry, ref))
    return nested


def _walk(level: list[tuple[dict[str, Any], AgentRef[Any]]], deadline: float,
          root: bool) -> None:
    """Ask every supervisor of ``level`` at once, then the next level, until ``deadline``."""
    while level:
        asked = []
        for entry, ref in level:
            try:
                asked.append((entry, AgentProxy(ref).supervisor_status()))
            except Exception:  # noqa: BLE001 - cannot even be asked (a codec refusal): unknown
                entry["state"] = "unknown"
        nested: list[tuple[dict[str, Any], AgentRef[Any]]] = []
        for entry, future in asked:
            try:
                status = future.get(timeout=max(0.001, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - late, dead or lost: this part is unknown
                entry["state"] = "unknown"
                continue
            nested.extend(_fill(entry, status, root))
        level, root = nested, False


def _walk_roots(refs: list[AgentRef[Any]], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    entries = [_node_of(ref) for ref in refs]
    _walk([(e, r) for e, r in zip(entries, refs, strict=True) if e["state"] == "running"],
          deadline, True)
    return entries


def describe(ref: AgentRef[Any], *, timeout: float = TREE_TIMEOUT) -> dict[str, Any]:
    """Describe the supervision tree under the supervisor ``ref``, local or remote.

    Every supervisor of the tree is asked (nested ones on other nodes too),
    one level at a time, all within ``timeout`` seconds in total: a part that
    does not answer in time is shown with state ``"unknown"`` (and no
    children) instead of failing the walk. It blocks: call it from a thread,
    not from an event loop.

    Args:
        ref: a supervisor's ref (a local agent that is not a supervisor is
            described as a worker; a remote ref must be a supervisor's, since
            asking another agent for its status would crash it).
        timeout: seconds for the whole walk.

    Returns:
        The tree as a JSON-able dict (see the module docstring): for the root
        ``id`` is its registered name (else its class name) and ``restarts`` 0.
    """
    _refuse_on_loop("describe")
    local = getattr(ref._proc, "actor_class", None) is not None
    if local and not _askable(ref, None):
        entry = _node_of(ref)
        for key in ("strategy", "intensity", "period", "children"):
            del entry[key]
        entry["type"] = "worker"
        return entry
    return _walk_roots([ref], timeout)[0]


def roots() -> list[AgentRef[Any]]:
    """This node's root supervisors: live local supervisors with no parent, oldest first.

    (A supervisor started by ``start_child`` or ``spawn(link=...)`` has a parent; one a
    plain start function returned to its supervisor has none, and counts as a root.)
    """
    return [proc.ref for proc in live()
            if not proc.dead and getattr(proc, "parent", None) is None
            and _askable(proc.ref, None)]


def trees(timeout: float = TREE_TIMEOUT) -> list[dict[str, Any]]:
    """``describe`` every root supervisor of this node, oldest first, all within ``timeout``."""
    _refuse_on_loop("trees")
    return _walk_roots(roots(), timeout)


def _refuse_on_loop(what: str) -> None:
    if asyncio._get_running_loop() is not None:
        msg = (f"{what}() waits for supervisors' answers and would block the running event "
               f"loop; call it from a thread (`await asyncio.to_thread({what}, ...)`)")
        raise RuntimeError(msg)


otp.node.set_status_reporter(trees)  # `otp-node status` asks the node, which asks this layer
